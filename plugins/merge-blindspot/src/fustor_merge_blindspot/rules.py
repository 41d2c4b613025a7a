"""The blind-spot policy, one function per situation (audit row, audit end, realtime evidence,
new leader, expiry).

Additions are ``path -> {mtime, size, found_at}``, deletions ``path -> {deleted_at}``; both times
``found_at``/``deleted_at`` are Fusion's clock, and each list is aged by its time: expiry and
eviction take the oldest findings first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from fustor_core.arbitration import Batch, NodeInfo
from fustor_core.pathlist import PathList

ADDITION_FIELDS = {"mtime": float, "size": int, "found_at": float}
DELETION_FIELDS = {"deleted_at": float}


@dataclass(frozen=True)
class BlindSpots:
    """The two lists one view keeps."""

    additions: PathList
    deletions: PathList

    def __bool__(self) -> bool:
        return bool(self.additions) or bool(self.deletions)

    @classmethod
    def empty(cls, max_entries: int | None = None) -> BlindSpots:
        """Two empty lists, each bounded by ``max_entries``."""
        return cls(
            PathList(ADDITION_FIELDS, age="found_at", max_entries=max_entries),
            PathList(DELETION_FIELDS, age="deleted_at", max_entries=max_entries),
        )


def record_audit_discoveries(
    spots: BlindSpots, batch: Batch, written: Iterable[int], before: Sequence[NodeInfo | None], now: float
) -> None:
    """An audit wrote a file (new, or newer than the tree) or a directory the tree lacked: some
    host without an agent made it. A listed deletion of that path no longer holds."""
    rows = batch.rows
    paths: list[str] = []
    mtimes: list[float] = []
    sizes: list[int] = []
    for i in written:
        row = rows[i]
        if row.is_dir and before[i] is not None:
            continue  # a known directory whose mtime moved: its changed children say what happened
        paths.append(row.path)
        mtimes.append(row.mtime)
        sizes.append(row.size)
    spots.additions.put_many(paths, mtime=mtimes, size=sizes, found_at=now)
    if spots.deletions:
        spots.deletions.discard_many(paths)


def clear_deletions_seen_by_scan(deletions: PathList, batch: Batch, seen: Iterable[int]) -> None:
    """A snapshot or audit row that the tree accepted or found identical shows the path exists."""
    rows = batch.rows
    deletions.discard_many(rows[i].path for i in seen)


def clear_paths_seen_in_realtime(spots: BlindSpots, batch: Batch) -> None:
    """An agent has now seen the path itself: neither list speaks for it any more."""
    rows = batch.rows
    paths = [rows[i].path for i in batch.to_write()]
    spots.additions.discard_many(paths)
    spots.deletions.discard_many(paths)


def clear_deleted_paths(
    spots: BlindSpots, paths: Iterable[str], directories: Collection[str], *, clear_deletions: bool
) -> None:
    """A deleted path (and a deleted directory's subtree) is no blind-spot addition any more;
    a realtime delete also settles a listed blind-spot deletion."""
    lists = (spots.additions, spots.deletions) if clear_deletions else (spots.additions,)
    paths = list(paths)
    for entries in lists:
        entries.discard_many(paths)
        entries.discard_under_any(directories)


def record_audit_deletions(spots: BlindSpots, deleted: Sequence[str], now: float) -> None:
    """What an audit deleted as missing was removed where no agent watches."""
    spots.deletions.put_many(deleted, deleted_at=now)
    clear_deleted_paths(spots, deleted, deleted, clear_deletions=False)


def forget_discoveries(spots: BlindSpots) -> None:
    """A new leader session starts discovery afresh: its scans will find what is still true."""
    spots.additions.clear()
    spots.deletions.clear()


def expire_old_findings(spots: BlindSpots, *, now: float, ttl_s: float) -> int:
    """Forget additions and deletions found more than ``ttl_s`` ago; returns how many went."""
    cutoff = now - ttl_s
    return spots.additions.expire(cutoff) + spots.deletions.expire(cutoff)

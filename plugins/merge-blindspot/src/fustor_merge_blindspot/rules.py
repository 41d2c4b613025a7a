"""The blind-spot policy, one function per situation (DESIGN 5: "audit row", "audit end",
"blind-spot additions", "blind-spot deletions").

Additions are ``path -> {mtime, size, found_at}``, deletions ``path -> {deleted_at}``; both times
``found_at``/``deleted_at`` are Fusion's clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from fustor_core.arbitration import Batch, NodeInfo
from fustor_core.pathlist import PathList


@dataclass(frozen=True)
class BlindSpots:
    """The two lists one view keeps."""

    additions: PathList
    deletions: PathList

    def __bool__(self) -> bool:
        return bool(self.additions) or bool(self.deletions)


def record_audit_discoveries(
    spots: BlindSpots, batch: Batch, written: Iterable[int], before: Sequence[NodeInfo | None], now: float
) -> None:
    """An audit wrote a file (new, or newer than the tree) or a directory the tree lacked: some
    host without an agent made it. A listed deletion of that path no longer holds."""
    rows = batch.rows
    additions, deletions = spots.additions, spots.deletions
    for i in written:
        row = rows[i]
        if row.is_dir and before[i] is not None:
            continue  # a known directory whose mtime moved: its changed children say what happened
        additions.put(row.path, mtime=row.mtime, size=row.size, found_at=now)
        if deletions:
            deletions.discard(row.path)


def clear_deletions_seen_by_scan(deletions: PathList, batch: Batch, seen: Iterable[int]) -> None:
    """A snapshot or audit row that the tree accepted or found identical shows the path exists."""
    rows = batch.rows
    for i in seen:
        deletions.discard(rows[i].path)


def clear_paths_seen_in_realtime(spots: BlindSpots, batch: Batch) -> None:
    """An agent has now seen the path itself: neither list speaks for it any more."""
    rows = batch.rows
    for i in batch.to_write():
        spots.additions.discard(rows[i].path)
        spots.deletions.discard(rows[i].path)


def clear_deleted_paths(
    spots: BlindSpots, paths: Iterable[str], directories: Collection[str], *, clear_deletions: bool
) -> None:
    """A deleted path (and a deleted directory's subtree) is no blind-spot addition any more;
    a realtime delete also settles a listed blind-spot deletion."""
    lists = (spots.additions, spots.deletions) if clear_deletions else (spots.additions,)
    for path in paths:
        for entries in lists:
            entries.discard(path)
    for entries in lists:
        entries.discard_under_any(directories)


def record_audit_deletions(spots: BlindSpots, deleted: Sequence[str], now: float) -> None:
    """What an audit deleted as missing was removed where no agent watches."""
    for path in deleted:
        spots.deletions.put(path, deleted_at=now)
    clear_deleted_paths(spots, deleted, deleted, clear_deletions=False)


def forget_discoveries(spots: BlindSpots) -> None:
    """A new leader session starts discovery afresh: its scans will find what is still true."""
    spots.additions.clear()
    spots.deletions.clear()

"""The tombstone policy, one function per situation (DESIGN 5: "realtime delete", "snapshot
row", "audit end", "tombstones").

A tombstone is ``path -> {deleted_at, mtime}``: ``deleted_at`` is Fusion's clock when the delete
arrived (for expiry), ``mtime`` the moment of the delete in the storage's mtime frame (the
logical watermark, or the deleted node's own mtime if that is later), which is what incoming
rows are compared against. A tombstone on a directory covers its whole former subtree.
"""

from __future__ import annotations

from collections.abc import Sequence

from fustor_core.arbitration import AuditRun, Batch, MissingCandidates, NodeInfo, parent_of
from fustor_core.pathlist import PathList

TOMBSTONED = "tombstoned"
"""Drop reason of a scan row that lies at or below a deleted path and is not newer than it."""


def record_realtime_deletes(
    tombstones: PathList, batch: Batch, before: Sequence[NodeInfo | None], *, now: float, watermark: float
) -> None:
    """Tombstone every path a realtime delete event removed.

    Recorded even when the path was not in the tree: the snapshot that would have sent it may
    still be on its way. ``before`` is what the tree held before the batch, so a deleted file
    with an mtime ahead of the watermark still outdates its own stale rows.
    """
    rows = batch.rows
    for i in batch.to_write():
        node = before[i]
        deleted_mtime = watermark if node is None else max(watermark, node.mtime)
        tombstones.put(rows[i].path, deleted_at=now, mtime=deleted_mtime)


def clear_recreated_paths(tombstones: PathList, batch: Batch) -> None:
    """A realtime insert/update proves the path exists again: its tombstone no longer holds.

    Ancestors keep theirs: a new file in a re-created directory says nothing about the old
    children that were deleted with it.
    """
    rows = batch.rows
    for i in batch.to_write():
        tombstones.discard(rows[i].path)


def drop_resurrected_rows(tombstones: PathList, batch: Batch) -> None:
    """Drop snapshot/audit rows at or below a tombstoned path unless they are newer than it.

    A row newer than every tombstone that covers it is a new file under the old name: it is
    accepted, and its own tombstone (if any) is cleared.
    """
    deadlines: dict[str, float | None] = {}
    rows = batch.rows
    for i in batch.kept():
        row = rows[i]
        own = tombstones.get(row.path)
        inherited = _subtree_deadline(tombstones, row.parent_path or parent_of(row.path), deadlines)
        deadline = _later(own["mtime"] if own is not None else None, inherited)
        if deadline is None:
            continue
        if row.mtime > deadline:
            if own is not None:
                tombstones.discard(row.path)
        else:
            batch.drop(i, TOMBSTONED)


def keep_tombstoned_candidates(tombstones: PathList, candidates: MissingCandidates) -> None:
    """A node missing from an audit whose path is tombstoned is not the audit's to delete."""
    for path in candidates.paths:
        if path in tombstones:
            candidates.keep(path, TOMBSTONED)


def expire_old_tombstones(tombstones: PathList, audit: AuditRun, *, now: float, ttl_s: float) -> int:
    """Forget tombstones older than the TTL — but only those made before this audit started.

    An audit that started after the delete has listed the tree without the file, so from then
    on the stale rows a tombstone guards against can no longer be in flight.
    """
    expired = [
        path
        for path, record in tombstones.items()
        if record["deleted_at"] < audit.started_at and now - record["deleted_at"] > ttl_s
    ]
    for path in expired:
        tombstones.discard(path)
    return len(expired)


def _subtree_deadline(tombstones: PathList, directory: str, memo: dict[str, float | None]) -> float | None:
    """The latest tombstone mtime on ``directory`` or any of its ancestors (None: none)."""
    if directory in memo:
        return memo[directory]
    record = tombstones.get(directory)
    own = record["mtime"] if record is not None else None
    above = None if directory == "/" else _subtree_deadline(tombstones, parent_of(directory), memo)
    memo[directory] = deadline = _later(own, above)
    return deadline


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)

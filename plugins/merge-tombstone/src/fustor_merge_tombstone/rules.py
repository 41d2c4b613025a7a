"""The tombstone policy, one function per situation (realtime delete, snapshot/audit row, audit
end, expiry).

A tombstone is ``path -> {deleted_at, mtime}``: ``deleted_at`` is Fusion's clock when the delete
arrived (for expiry), ``mtime`` the moment of the delete in the storage's mtime frame (the
logical watermark plus its uncertainty — the future tolerance —, or the deleted node's own mtime
if that is later), which is what incoming rows are compared against. A file re-created where no
agent watches within that tolerance after the delete is taken for the old one until the
tombstone expires: a short lag, where the other way round would resurrect a deleted file.
A tombstone on a directory covers its whole former subtree.

The list declares those two fields (packed, ~32 bytes per tombstone) and is aged by
``deleted_at``: expiry and eviction take the oldest deletions first.
"""

from __future__ import annotations

from collections.abc import Sequence

from fustor_core.arbitration import AuditRun, Batch, MissingCandidates, NodeInfo, parent_of
from fustor_core.pathlist import PathList

TOMBSTONED = "tombstoned"
"""Drop reason of a scan row that lies at or below a deleted path and is not newer than it."""
PARENT_DELETED = "parent_deleted"
"""Drop reason of a realtime row whose directory was deleted in realtime and not re-created."""

FIELDS = {"deleted_at": float, "mtime": float}


def new_tombstone_list(max_entries: int | None = None) -> PathList:
    """An empty tombstone list: ``path -> {deleted_at, mtime}``, aged by ``deleted_at``."""
    return PathList(FIELDS, age="deleted_at", max_entries=max_entries)


def record_realtime_deletes(
    tombstones: PathList, batch: Batch, before: Sequence[NodeInfo | None], *, now: float, watermark: float
) -> None:
    """Tombstone every path a realtime delete event removed.

    Recorded even when the path was not in the tree: the snapshot that would have sent it may
    still be on its way. ``before`` is what the tree held before the batch, so a deleted file
    with an mtime ahead of the watermark still outdates its own stale rows.
    """
    rows = batch.rows
    kept = batch.to_write()
    mtimes = [_moment_of_delete(before[i], watermark) for i in kept]
    tombstones.put_many([rows[i].path for i in kept], deleted_at=now, mtime=mtimes)


def clear_recreated_paths(tombstones: PathList, batch: Batch) -> None:
    """A realtime insert/update proves the path exists again: its tombstone no longer holds.

    Ancestors keep theirs: a new file in a re-created directory says nothing about the old
    children that were deleted with it.
    """
    rows = batch.rows
    tombstones.discard_many(rows[i].path for i in batch.to_write())


def drop_resurrected_rows(tombstones: PathList, batch: Batch) -> None:
    """Drop snapshot/audit rows at or below a tombstoned path unless they are newer than it.

    A row newer than every tombstone that covers it is a new file under the old name: it is
    accepted, and its own tombstone (if any) is cleared.
    """
    deadlines: dict[str, float | None] = {}
    rows = batch.rows
    kept = list(batch.kept())
    owns = tombstones.get_many([rows[i].path for i in kept], "mtime")
    cleared: list[str] = []
    for i, own in zip(kept, owns, strict=True):
        row = rows[i]
        inherited = _subtree_deadline(tombstones, row.parent_path or parent_of(row.path), deadlines)
        deadline = _later(own, inherited)
        if deadline is None:
            continue
        if row.mtime > deadline:
            if own is not None:
                cleared.append(row.path)
        else:
            batch.drop(i, TOMBSTONED)
    if cleared:
        tombstones.discard_many(cleared)


def drop_realtime_rows_under_a_deleted_directory(tombstones: PathList, batch: Batch) -> None:
    """A realtime row for a path whose directory realtime deleted (tombstoned, and not in the tree
    again) was observed before that delete: another host's agent resolved its event late. Realtime
    wins over scans, but not over a later realtime delete of the directory; writing the row would
    re-create the deleted directory chain (with no mtimes) out of nothing. A directory re-created
    since came with a realtime row of its own, which cleared its tombstone (or comes earlier in
    this very batch)."""
    rows = batch.rows
    kept = list(batch.kept())
    parents = batch.parents()
    made_here = {rows[i].path for i in kept if rows[i].is_dir}
    covered: dict[str, float | None] = {}
    for i in kept:
        if parents[i] is not None:
            continue
        parent = rows[i].parent_path or parent_of(rows[i].path)
        if parent in made_here:
            continue
        if _subtree_deadline(tombstones, parent, covered) is not None:
            batch.drop(i, PARENT_DELETED)


def keep_tombstoned_candidates(tombstones: PathList, audit: AuditRun, candidates: MissingCandidates) -> None:
    """A node missing from a scan whose path realtime deleted after the scan started is the
    delete's business, not the scan's. A tombstone older than the scan does not protect a node
    the scan no longer lists (the node can only be back through a re-creation the scan missed)."""
    deleted_at = tombstones.get_many(candidates.paths, "deleted_at")
    for path, when in zip(candidates.paths, deleted_at, strict=True):
        if when is not None and when > audit.started_at:
            candidates.keep(path, TOMBSTONED)


def expire_old_tombstones(
    tombstones: PathList, *, now: float, ttl_s: float, oldest_scan: float | None
) -> int:
    """Forget tombstones older than the TTL that no running scan can still need.

    A tombstone guards against the stale rows of a snapshot or audit that listed the directory
    before the delete. Such a scan started before the delete; once none is running (``oldest_scan``
    is the start of the oldest scan still running, None when none runs), no stale row can come.
    The TTL covers what Fusion cannot see: an NFS client still caching the old listing.
    """
    cutoff = now - ttl_s
    if oldest_scan is not None:
        cutoff = min(cutoff, oldest_scan)
    return tombstones.expire(cutoff)


def _subtree_deadline(tombstones: PathList, directory: str, memo: dict[str, float | None]) -> float | None:
    """The latest tombstone mtime on ``directory`` or any of its ancestors (None: none)."""
    if directory in memo:
        return memo[directory]
    record = tombstones.get(directory)
    own = record["mtime"] if record is not None else None
    above = None if directory == "/" else _subtree_deadline(tombstones, parent_of(directory), memo)
    memo[directory] = deadline = _later(own, above)
    return deadline


def _moment_of_delete(node: NodeInfo | None, watermark: float) -> float:
    """The delete in the mtime frame: the watermark, or the node's own mtime if that is later."""
    return watermark if node is None else max(watermark, node.mtime)


def _later(a: float | None, b: float | None) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b)

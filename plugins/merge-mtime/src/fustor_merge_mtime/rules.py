"""The mtime policy, one function per situation (snapshot row, audit row for a path the tree
holds, audit row for one it lacks, a scan's end; see docs/arbitration.md, "merge-mtime").

Every function takes what the tree held *before* the batch (``batch.existing()``), so rows of
one batch never judge each other.
"""

from __future__ import annotations

from collections.abc import Sequence

from fustor_core.arbitration import AuditRun, Batch, Lookup, MissingCandidates, NodeInfo, parent_of

OLDER_THAN_TREE = "older_than_tree"
"""Drop reason: the tree already holds a newer version of the path."""
PARENT_CHANGED = "parent_changed"
"""Drop reason: the parent directory changed after the scan listed it (the file may be gone);
also the keep reason of a node missing from a listing its directory has outdated since."""
CONFIRMED_AFTER_AUDIT_START = "confirmed_after_audit_start"
"""Keep reason: realtime saw the node after the audit began, so the audit's listing is stale."""


def arbitrate_snapshot_rows(batch: Batch, before: Sequence[NodeInfo | None]) -> None:
    """A snapshot row older than the tree is dropped; one identical to it changes nothing."""
    rows = batch.rows
    for i, node in enumerate(before):
        if node is None:
            continue
        row = rows[i]
        if node.mtime > row.mtime:
            batch.drop(i, OLDER_THAN_TREE)
        elif node.mtime == row.mtime and node.size == row.size and node.is_dir == row.is_dir:
            batch.skip(i)


def arbitrate_audit_rows(batch: Batch, before: Sequence[NodeInfo | None]) -> None:
    """An audit row is accepted only if it is news: newer than the tree, or a path the tree
    lacks whose parent has not changed since the scan listed it."""
    rows = batch.rows
    parents: Sequence[NodeInfo | None] | None = None
    for i, node in enumerate(before):
        row = rows[i]
        if node is not None:
            if row.mtime < node.mtime:
                batch.drop(i, OLDER_THAN_TREE)
            elif row.mtime == node.mtime and _same_content(node, row.is_dir, row.size):
                batch.skip(i)
            # else: newer than the tree — a change made where no agent watches; accept
        elif row.parent_mtime is not None:
            if parents is None:
                parents = batch.parents()
            drop_row_whose_parent_changed(batch, i, parents[i], row.parent_mtime)


def drop_row_whose_parent_changed(
    batch: Batch, i: int, parent: NodeInfo | None, listed_parent_mtime: float
) -> None:
    """The scan listed the file in a directory that has changed since (the tree knows a newer
    parent mtime, e.g. from a realtime delete): the file may have been deleted after the scan
    saw it, so its row is not evidence that it exists."""
    if parent is not None and parent.mtime > listed_parent_mtime:
        batch.drop(i, PARENT_CHANGED)


def keep_nodes_confirmed_after_audit_start(audit: AuditRun, candidates: MissingCandidates) -> None:
    """Stale-evidence protection: a node realtime confirmed after the audit began may have been
    created after the scan listed its directory (``cp -p`` and ``rsync -a`` create files with old
    mtimes, so the mtime cannot tell)."""
    started_at = audit.started_at
    for path, info in zip(candidates.paths, candidates.infos, strict=True):
        if info.confirmed_at > started_at:
            candidates.keep(path, CONFIRMED_AFTER_AUDIT_START)


def keep_nodes_whose_directory_changed_after_listing(
    audit: AuditRun, candidates: MissingCandidates, lookup: Lookup
) -> None:
    """A scan's listing of a directory says nothing about what the directory holds *now* if
    the tree knows the directory changed after it was listed (realtime reported a newer mtime):
    a node missing from that listing may have been created since, so it is not deleted. The
    directory's new mtime makes the next audit list it again."""
    if not candidates.paths:
        return
    directories = sorted({parent_of(path) for path in candidates.paths})
    changed = {
        directory
        for directory, node in zip(directories, lookup(directories), strict=True)
        if node is not None and node.mtime > audit.listed.get(directory, node.mtime)
    }
    if not changed:
        return
    for path in candidates.paths:
        if parent_of(path) in changed:
            candidates.keep(path, PARENT_CHANGED)


def _same_content(node: NodeInfo, is_dir: bool, size: int) -> bool:
    return node.is_dir == is_dir and (is_dir or node.size == size)

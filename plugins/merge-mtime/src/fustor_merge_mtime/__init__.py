"""Merge rule: realtime first, mtime arbitration, parent-mtime check, stale-evidence protection.

The principle of arbitration — *realtime wins; otherwise mtime decides* — as a plugin: realtime
rows are never dropped; a snapshot or audit row that is older than the tree is; an audit row for
a file the tree does not have is dropped when the tree's parent directory changed after the scan
listed it; and an audit never deletes a node that realtime confirmed after the audit started.

The hooks live in :mod:`fustor_merge_mtime.hooks`, the policy in :mod:`fustor_merge_mtime.rules`.
"""

from fustor_merge_mtime.hooks import fustor_audit_missing, fustor_filter_batch

__all__ = ["fustor_audit_missing", "fustor_filter_batch"]

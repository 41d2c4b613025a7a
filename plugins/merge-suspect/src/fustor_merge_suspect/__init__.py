"""Merge rule: hot and future-mtime files are suspect until stable.

A file whose mtime is younger than the hot window (by the logical clock) may still be being
written, so query answers flag it ``integrity_suspect`` until it is seen to be stable: its TTL
passes with the mtime unchanged, the sentinel or a scan reports an mtime that is no longer hot,
or a realtime event confirms it. A file with an mtime in the future is suspect too.

The hooks live in :mod:`fustor_merge_suspect.hooks`, the policy in :mod:`fustor_merge_suspect.rules`,
the list with its expiry order in :mod:`fustor_merge_suspect.suspect_list`.
"""

from fustor_merge_suspect.hooks import (
    fustor_audit_ended,
    fustor_batch_applied,
    fustor_filter_batch,
    fustor_node_flags,
    fustor_rule_options,
    fustor_sentinel_feedback,
    fustor_sentinel_tasks,
    fustor_snapshot_ended,
    fustor_tick,
    fustor_view_started,
    fustor_view_stats,
)
from fustor_merge_suspect.options import SuspectOptions

__all__ = [
    "SuspectOptions",
    "fustor_audit_ended",
    "fustor_batch_applied",
    "fustor_filter_batch",
    "fustor_node_flags",
    "fustor_rule_options",
    "fustor_sentinel_feedback",
    "fustor_sentinel_tasks",
    "fustor_snapshot_ended",
    "fustor_tick",
    "fustor_view_started",
    "fustor_view_stats",
]

"""Merge rule: tombstones keep deleted files from being resurrected by stale scans.

A realtime delete is the strongest evidence Fusion gets, but a snapshot or audit that listed the
file *before* it was deleted may deliver its rows *after*. The tombstone remembers the deletion
(in the storage's mtime frame) so such stale rows are dropped, while a genuinely new file under
the old name — an mtime newer than the deletion — is accepted and clears the tombstone.

The hooks live in :mod:`fustor_merge_tombstone.hooks`, the policy in
:mod:`fustor_merge_tombstone.rules`; this module is what the entry point registers.
"""

from fustor_merge_tombstone.hooks import (
    fustor_audit_missing,
    fustor_batch_applied,
    fustor_filter_batch,
    fustor_rule_options,
    fustor_tick,
    fustor_view_started,
    fustor_view_stats,
)
from fustor_merge_tombstone.options import TombstoneOptions

__all__ = [
    "TombstoneOptions",
    "fustor_audit_missing",
    "fustor_batch_applied",
    "fustor_filter_batch",
    "fustor_rule_options",
    "fustor_tick",
    "fustor_view_started",
    "fustor_view_stats",
]

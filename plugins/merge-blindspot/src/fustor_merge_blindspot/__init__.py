"""Merge rule: blind-spot additions and deletions found by audits.

Some hosts write to the export without an agent watching. Only scans find what they did: an audit
row the tree did not know (or a newer version of a file) is a **blind-spot addition**, a node an
audit no longer finds is a **blind-spot deletion**. Query answers flag additions
``agent_missing`` until an agent sees the path in realtime, the file is deleted, a new leader
session starts discovery afresh or the option ``ttl_s`` passes; deletions stay listed until
realtime or a scan shows the path again, a new leader session starts or the same TTL passes.

The hooks live in :mod:`fustor_merge_blindspot.hooks`, the policy in
:mod:`fustor_merge_blindspot.rules`.
"""

from fustor_merge_blindspot.hooks import (
    fustor_audit_ended,
    fustor_batch_applied,
    fustor_filter_batch,
    fustor_leader_session,
    fustor_node_flags,
    fustor_rule_options,
    fustor_sentinel_feedback,
    fustor_snapshot_ended,
    fustor_tick,
    fustor_view_started,
    fustor_view_stats,
)
from fustor_merge_blindspot.options import BlindSpotOptions

__all__ = [
    "BlindSpotOptions",
    "fustor_audit_ended",
    "fustor_batch_applied",
    "fustor_filter_batch",
    "fustor_leader_session",
    "fustor_node_flags",
    "fustor_rule_options",
    "fustor_sentinel_feedback",
    "fustor_snapshot_ended",
    "fustor_tick",
    "fustor_view_started",
    "fustor_view_stats",
]

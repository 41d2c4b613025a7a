"""Merge rule: every directory says whether the upload in it is finished (``complete``).

A directory is complete when a marker file (``markers``: globs such as ``RTAComplete.txt``) lies
in it and nothing under it was written after that file; or, where no marker is configured, when
nothing under it changed for ``settle_s``, nothing under it is ``integrity_suspect`` and the
leader fully listed every directory under it after its last change. A write under a complete
directory makes it incomplete again.

The hooks live in :mod:`fustor_merge_completion.hooks`, the incremental per-directory
aggregates in :mod:`fustor_merge_completion.tracker`, their rebuild after a restart in
:mod:`fustor_merge_completion.rebuild`.
"""

from fustor_merge_completion.hooks import (
    fustor_audit_ended,
    fustor_batch_applied,
    fustor_filter_batch,
    fustor_node_flags,
    fustor_rule_options,
    fustor_sentinel_feedback,
    fustor_snapshot_ended,
    fustor_tick,
    fustor_view_started,
    fustor_view_stats,
)
from fustor_merge_completion.options import CompletionOptions

__all__ = [
    "CompletionOptions",
    "fustor_audit_ended",
    "fustor_batch_applied",
    "fustor_filter_batch",
    "fustor_node_flags",
    "fustor_rule_options",
    "fustor_sentinel_feedback",
    "fustor_snapshot_ended",
    "fustor_tick",
    "fustor_view_started",
    "fustor_view_stats",
]

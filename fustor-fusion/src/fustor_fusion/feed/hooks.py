"""Fusion's own plugin that tells a view's :class:`~.tracking.ChangeTracker` what the engine wrote.

The engine already reports every tree write to the merge-rule hooks — rows written and paths
deleted by a batch, directories refreshed by realtime rows, nodes a scan's end removed, what
sentinel feedback rewrote — so the change feed listens there, like any rule, rather than inside
the engine's code: whichever module applies batches, the hooks are called with the same facts.
Registered in code on the view's plugin manager (:func:`register`), ``trylast`` so that it sees
each call after the rules.
"""

from __future__ import annotations

import sys
from typing import Any

import pluggy

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, Changes, MissingCandidates, SentinelUpdate
from fustor_core.event_model import EventType
from fustor_fusion.feed.tracking import ChangeTracker

PLUGIN_NAME = "fusion-change-feed"


def register(pm: pluggy.PluginManager) -> None:
    """Add this plugin to ``pm`` unless it is there already (idempotent)."""
    if pm.get_plugin(PLUGIN_NAME) is None:
        pm.register(sys.modules[__name__], name=PLUGIN_NAME)


def _tracker(view: Any) -> ChangeTracker | None:
    tracker = getattr(view, "change_tracker", None)
    return tracker if isinstance(tracker, ChangeTracker) and tracker.active else None


@hookimpl
def fustor_filter_batch(view: Any, batch: Batch) -> None:
    if batch.event_type is EventType.DELETE and _tracker(view) is not None:
        batch.existing()  # the nodes before they go: which deletions are directories


@hookimpl(trylast=True)
def fustor_batch_applied(view: Any, batch: Batch, changes: Changes) -> None:
    tracker = _tracker(view)
    if tracker is None:
        return
    if batch.event_type is EventType.DELETE:
        if changes.deleted:
            kinds = {
                row.path: row.is_dir or (node is not None and node.is_dir)
                for row, node in zip(batch.rows, batch.existing(), strict=True)
            }
            tracker.deleted(changes.deleted, kinds)
    else:
        tracker.rows_written(batch.rows, changes.upserted)
    if changes.refreshed:
        tracker.nodes_changed(changes.refreshed)


@hookimpl(trylast=True)
def fustor_audit_missing(view: Any, candidates: MissingCandidates) -> None:
    tracker = _tracker(view)
    if tracker is not None:
        tracker.scan_candidates(candidates)


@hookimpl(trylast=True)
def fustor_audit_ended(view: Any, deleted: list[str]) -> None:
    tracker = _tracker(view)
    if tracker is not None and deleted:
        tracker.deleted(deleted)


@hookimpl(trylast=True)
def fustor_snapshot_ended(view: Any, deleted: list[str]) -> None:
    fustor_audit_ended(view, deleted)


@hookimpl(trylast=True)
def fustor_sentinel_feedback(view: Any, updates: list[SentinelUpdate], changes: Changes) -> None:
    tracker = _tracker(view)
    if tracker is None:
        return
    if changes.upserted:
        tracker.nodes_changed(updates[i].path for i in changes.upserted)
    if changes.deleted:
        tracker.deleted(changes.deleted, dict.fromkeys(changes.deleted, False))

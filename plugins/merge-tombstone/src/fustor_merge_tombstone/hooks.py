"""Hook implementations of the tombstone rule: wiring between the engine and :mod:`.rules`."""

from __future__ import annotations

import logging
from typing import Any

from fustor_core import hookimpl
from fustor_core.arbitration import AuditRun, Batch, Changes, MissingCandidates, ViewLike
from fustor_core.event_model import EventType, MessageSource
from fustor_core.logs import log_event
from fustor_core.options import RegisterRuleOptions
from fustor_core.pathlist import PathList, log_evictions
from fustor_merge_tombstone import rules
from fustor_merge_tombstone.options import NAME, TombstoneOptions, options_of

LIST_NAME = "tombstones"
log = logging.getLogger(__name__)


def tombstones_of(view: ViewLike) -> PathList | None:
    """This view's tombstone list (None if the view was started without this plugin)."""
    return view.get_list(LIST_NAME)


@hookimpl
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    register(NAME, TombstoneOptions)


@hookimpl
def fustor_view_started(view: ViewLike) -> None:
    view.register_list(LIST_NAME, rules.new_tombstone_list(options_of(view).max_entries))


@hookimpl
def fustor_filter_batch(view: ViewLike, batch: Batch) -> None:
    if batch.source is MessageSource.REALTIME:
        if batch.event_type is EventType.DELETE:
            batch.existing()  # look the doomed nodes up now, while they are still in the tree
            return
        tombstones = tombstones_of(view)
        if tombstones:
            rules.drop_realtime_rows_under_a_deleted_directory(tombstones, batch)
        return
    tombstones = tombstones_of(view)
    if tombstones:
        rules.drop_resurrected_rows(tombstones, batch)


@hookimpl
def fustor_batch_applied(view: ViewLike, batch: Batch, changes: Changes) -> None:
    if batch.source is not MessageSource.REALTIME:
        return
    tombstones = tombstones_of(view)
    if tombstones is None:
        return
    if batch.event_type is EventType.DELETE:
        clock = view.clock
        # the watermark is an estimate good to about the future tolerance: a file changed
        # (where no agent watches) that shortly before its delete may carry an mtime just ahead
        # of it, and must still count as older than the delete
        moment = clock.watermark() + view.settings.future_tolerance_s
        rules.record_realtime_deletes(tombstones, batch, batch.existing(), now=clock.now(), watermark=moment)
    elif tombstones:
        rules.clear_recreated_paths(tombstones, batch)


@hookimpl
def fustor_audit_missing(view: ViewLike, audit: AuditRun, candidates: MissingCandidates) -> None:
    tombstones = tombstones_of(view)
    if tombstones:
        rules.keep_tombstoned_candidates(tombstones, audit, candidates)


@hookimpl
def fustor_tick(view: ViewLike, now: float) -> None:
    tombstones = tombstones_of(view)
    if tombstones is None:
        return
    log_evictions(tombstones, log, view=view.name, name=LIST_NAME)
    if not tombstones:
        return
    expired = rules.expire_old_tombstones(
        tombstones, now=now, ttl_s=options_of(view).ttl_s, oldest_scan=oldest_scan_start(view)
    )
    if expired:
        log_event(
            log, logging.DEBUG, "tombstones expired", view=view.name, expired=expired, left=len(tombstones)
        )


def oldest_scan_start(view: ViewLike) -> float | None:
    """When the oldest snapshot or audit still running began (None: no scan is running)."""
    starts = [scan.started_at for scan in (view.snapshot, view.audit) if scan is not None]
    return min(starts, default=None)


@hookimpl
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    tombstones = tombstones_of(view)
    if tombstones is None:
        return {"tombstones": 0, "tombstones_evicted": 0}
    return {"tombstones": len(tombstones), "tombstones_evicted": tombstones.evicted}

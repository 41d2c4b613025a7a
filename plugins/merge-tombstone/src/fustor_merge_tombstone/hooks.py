"""Hook implementations of the tombstone rule: wiring between the engine and :mod:`.rules`."""

from __future__ import annotations

import logging
from typing import Any

from fustor_core import hookimpl
from fustor_core.arbitration import AuditRun, Batch, Changes, MissingCandidates, ViewLike
from fustor_core.event_model import EventType, MessageSource
from fustor_core.logs import log_event
from fustor_core.pathlist import PathList
from fustor_merge_tombstone import rules

LIST_NAME = "tombstones"
log = logging.getLogger(__name__)


def tombstones_of(view: ViewLike) -> PathList | None:
    """This view's tombstone list (None if the view was started without this plugin)."""
    return view.get_list(LIST_NAME)


@hookimpl
def fustor_view_started(view: ViewLike) -> None:
    view.register_list(LIST_NAME, PathList())


@hookimpl
def fustor_filter_batch(view: ViewLike, batch: Batch) -> None:
    if batch.source is MessageSource.REALTIME:
        if batch.event_type is EventType.DELETE:
            batch.existing()  # look the doomed nodes up now, while they are still in the tree
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
        rules.record_realtime_deletes(
            tombstones, batch, batch.existing(), now=clock.now(), watermark=clock.watermark()
        )
    elif tombstones:
        rules.clear_recreated_paths(tombstones, batch)


@hookimpl
def fustor_audit_missing(view: ViewLike, audit: AuditRun, candidates: MissingCandidates) -> None:
    tombstones = tombstones_of(view)
    if tombstones:
        rules.keep_tombstoned_candidates(tombstones, candidates)


@hookimpl
def fustor_audit_ended(view: ViewLike, audit: AuditRun) -> None:
    tombstones = tombstones_of(view)
    if not tombstones:
        return
    expired = rules.expire_old_tombstones(
        tombstones, audit, now=view.clock.now(), ttl_s=view.settings.tombstone_ttl_s
    )
    if expired:
        log_event(
            log, logging.DEBUG, "tombstones expired", view=view.name, expired=expired, left=len(tombstones)
        )


@hookimpl
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    tombstones = tombstones_of(view)
    return {"tombstones": len(tombstones) if tombstones is not None else 0}

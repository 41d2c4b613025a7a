"""Hook implementations of the suspect rule: wiring between the engine and :mod:`.rules`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import chain
from typing import Any

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, Changes, NodeInfo, SentinelUpdate, ViewLike
from fustor_core.event_model import EventType, MessageSource
from fustor_core.options import RegisterRuleOptions
from fustor_core.pathlist import log_evictions
from fustor_merge_suspect import rules
from fustor_merge_suspect.options import NAME, SuspectOptions, options_of
from fustor_merge_suspect.suspect_list import SuspectList

LIST_NAME = "suspects"
SETTLED_PER_TICK = 20_000
"""At most this many expired suspects are settled per tick (each needs a tree lookup), so that
the expiry of a whole fresh upload does not hold the event loop; the rest wait for later ticks."""
log = logging.getLogger(__name__)


def suspects_of(view: ViewLike) -> SuspectList | None:
    """This view's suspect list (None if the view was started without this plugin)."""
    suspects = view.get_list(LIST_NAME)
    return suspects if isinstance(suspects, SuspectList) else None


def moment_of(view: ViewLike, now: float | None = None) -> rules.Moment:
    clock, settings = view.clock, view.settings
    return rules.Moment.at(
        clock,
        clock.now() if now is None else now,
        options_of(view).effective_ttl_s(settings.hot_window_s),
        settings.future_tolerance_s,
    )


@hookimpl
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    register(NAME, SuspectOptions)


@hookimpl
def fustor_view_started(view: ViewLike) -> None:
    view.register_list(LIST_NAME, SuspectList(max_entries=options_of(view).max_entries))


@hookimpl
def fustor_filter_batch(batch: Batch) -> None:
    if batch.source is MessageSource.REALTIME and batch.event_type is EventType.DELETE:
        batch.existing()  # look the doomed nodes up now, to know later which were directories


@hookimpl
def fustor_batch_applied(view: ViewLike, batch: Batch, changes: Changes) -> None:
    suspects = suspects_of(view)
    if suspects is None:
        return
    if batch.source is not MessageSource.REALTIME:
        skipped = batch.skipped
        written_or_confirmed = list(chain(changes.upserted, skipped)) if skipped else changes.upserted
        rules.mark_hot_scanned_files(suspects, batch.rows, written_or_confirmed, moment_of(view))
    elif batch.event_type is EventType.DELETE:
        if suspects:
            rows, before = batch.rows, batch.existing()
            kept = batch.to_write()
            directories = [rows[i].path for i in kept if rows[i].is_dir or _was_dir(before[i])]
            rules.release_deleted_paths(suspects, (rows[i].path for i in kept), directories)
    else:
        rules.release_files_seen_in_realtime(suspects, batch, moment_of(view))


@hookimpl
def fustor_audit_ended(view: ViewLike, deleted: list[str]) -> None:
    suspects = suspects_of(view)
    if suspects and deleted:
        rules.release_deleted_paths(suspects, deleted, deleted)


@hookimpl
def fustor_snapshot_ended(view: ViewLike, deleted: list[str]) -> None:
    fustor_audit_ended(view, deleted)


@hookimpl
def fustor_tick(view: ViewLike, now: float) -> None:
    suspects = suspects_of(view)
    if suspects is None:
        return
    log_evictions(suspects, log, view=view.name, name=LIST_NAME)
    if not suspects:
        return
    due = suspects.due(now, limit=SETTLED_PER_TICK)
    if due:
        rules.settle_expired_suspects(suspects, due, view.lookup(due), moment_of(view, now))


@hookimpl
def fustor_sentinel_tasks(view: ViewLike, limit: int) -> list[str]:
    suspects = suspects_of(view)
    return suspects.oldest(limit) if suspects else []


@hookimpl
def fustor_sentinel_feedback(view: ViewLike, updates: list[SentinelUpdate]) -> None:
    suspects = suspects_of(view)
    if not suspects:
        return
    moment = moment_of(view)
    for update in updates:
        rules.settle_sentinel_report(suspects, update, moment)


@hookimpl
def fustor_node_flags(view: ViewLike) -> dict[str, Callable[[str], bool]]:
    suspects = suspects_of(view)
    return {"integrity_suspect": suspects.__contains__} if suspects is not None else {}


@hookimpl
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    suspects = suspects_of(view)
    if suspects is None:
        return {"suspects": 0, "suspects_evicted": 0}
    return {"suspects": len(suspects), "suspects_evicted": suspects.evicted}


def _was_dir(node: NodeInfo | None) -> bool:
    return node is not None and node.is_dir

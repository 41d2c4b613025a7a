"""Hook implementations of the blind-spot rule: wiring between the engine and :mod:`.rules`."""

from __future__ import annotations

import logging
from collections.abc import Callable
from itertools import chain
from typing import Any

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, Changes, NodeInfo, ViewLike
from fustor_core.event_model import EventType, MessageSource
from fustor_core.options import RegisterRuleOptions
from fustor_core.pathlist import log_evictions
from fustor_merge_blindspot import rules
from fustor_merge_blindspot.options import NAME, BlindSpotOptions, options_of

ADDITIONS = "blind_spot_additions"
DELETIONS = "blind_spot_deletions"
log = logging.getLogger(__name__)


def blind_spots_of(view: ViewLike) -> rules.BlindSpots | None:
    """This view's two lists (None if the view was started without this plugin)."""
    additions, deletions = view.get_list(ADDITIONS), view.get_list(DELETIONS)
    if additions is None or deletions is None:
        return None
    return rules.BlindSpots(additions, deletions)


@hookimpl
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    register(NAME, BlindSpotOptions)


@hookimpl
def fustor_view_started(view: ViewLike) -> None:
    spots = rules.BlindSpots.empty(options_of(view).max_entries)
    view.register_list(ADDITIONS, spots.additions)
    view.register_list(DELETIONS, spots.deletions)


@hookimpl
def fustor_filter_batch(batch: Batch) -> None:
    source = batch.source
    if source is MessageSource.AUDIT or (
        source is MessageSource.REALTIME and batch.event_type is EventType.DELETE
    ):
        batch.existing()  # look the rows up before they are applied: was each path new, a dir?


@hookimpl
def fustor_batch_applied(view: ViewLike, batch: Batch, changes: Changes) -> None:
    spots = blind_spots_of(view)
    if spots is None:
        return
    source = batch.source
    if source is MessageSource.AUDIT:
        rules.record_audit_discoveries(spots, batch, changes.upserted, batch.existing(), view.clock.now())
        if spots.deletions and batch.skipped:
            rules.clear_deletions_seen_by_scan(spots.deletions, batch, batch.skipped)
    elif source is MessageSource.SNAPSHOT:
        if spots.deletions:
            rules.clear_deletions_seen_by_scan(spots.deletions, batch, chain(changes.upserted, batch.skipped))
    elif spots:
        settle_realtime_evidence(spots, batch)


def settle_realtime_evidence(spots: rules.BlindSpots, batch: Batch) -> None:
    """Realtime saw the paths: created/changed ones leave both lists, deleted ones take their
    subtree's additions (and any listed deletion) with them."""
    if batch.event_type is not EventType.DELETE:
        rules.clear_paths_seen_in_realtime(spots, batch)
        return
    rows, before = batch.rows, batch.existing()
    kept = batch.to_write()
    directories = [rows[i].path for i in kept if rows[i].is_dir or _was_dir(before[i])]
    rules.clear_deleted_paths(spots, (rows[i].path for i in kept), directories, clear_deletions=True)


@hookimpl
def fustor_audit_ended(view: ViewLike, deleted: list[str]) -> None:
    spots = blind_spots_of(view)
    if spots is not None and deleted:
        rules.record_audit_deletions(spots, deleted, view.clock.now())


@hookimpl
def fustor_snapshot_ended(view: ViewLike, deleted: list[str]) -> None:
    """A snapshot is a full listing too: what it found gone was removed where no agent saw it
    (typically while the agent was down)."""
    spots = blind_spots_of(view)
    if spots is not None and deleted:
        rules.record_audit_deletions(spots, deleted, view.clock.now())


@hookimpl
def fustor_sentinel_feedback(view: ViewLike, changes: Changes) -> None:
    """The sentinel found a file gone: a blind-spot addition of it no longer stands."""
    spots = blind_spots_of(view)
    if spots and changes.deleted:
        rules.clear_deleted_paths(spots, changes.deleted, changes.deleted, clear_deletions=False)


@hookimpl
def fustor_leader_session(view: ViewLike) -> None:
    spots = blind_spots_of(view)
    if spots is not None:
        rules.forget_discoveries(spots)


@hookimpl
def fustor_tick(view: ViewLike, now: float) -> None:
    spots = blind_spots_of(view)
    if spots is None:
        return
    log_evictions(spots.additions, log, view=view.name, name=ADDITIONS)
    log_evictions(spots.deletions, log, view=view.name, name=DELETIONS)
    if spots:
        rules.expire_old_findings(spots, now=now, ttl_s=options_of(view).ttl_s)


@hookimpl
def fustor_node_flags(view: ViewLike) -> dict[str, Callable[[str], bool]]:
    spots = blind_spots_of(view)
    return {"agent_missing": spots.additions.__contains__} if spots is not None else {}


@hookimpl
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    spots = blind_spots_of(view)
    if spots is None:
        spots = rules.BlindSpots.empty()
    return {
        "blind_spot_additions": len(spots.additions),
        "blind_spot_deletions": len(spots.deletions),
        "has_blind_spot": bool(spots),
        "blind_spot_additions_evicted": spots.additions.evicted,
        "blind_spot_deletions_evicted": spots.deletions.evicted,
    }


def _was_dir(node: NodeInfo | None) -> bool:
    return node is not None and node.is_dir

"""Sync mode ``audit`` (leader only): periodic walk that lists only directories that changed,
plus a rolling slice of deep checks.

Every ``interval_s`` (its options, :class:`AuditOptions`; or on request) the source walks the
tree against the tenure's directory cache (seeded by the snapshot): unchanged directories are
sent once with ``audit_skipped`` and not listed, changed ones in full. Each audit also
deep-checks its slice of the tree (see :mod:`fustor_sync_audit.deep`): those directories are
listed and every file re-stat'ed even when unchanged, so a file rewritten in place from a host
without an agent is found within ``deep_period_s``. The walk is framed by ``audit/start`` and
``audit/end``; the end waits until Fusion applied every audit row and reports how many nodes it
removed as missing. Audits and snapshots never overlap (the pipe's scan lock).

Requests (the agent API, or the agent itself) may ask for ``{"deep": true}`` — deep-check the
whole tree now — or ``{"relist": [paths]}`` — realtime may have missed changes there: the
directory cache forgets those subtrees first, so this audit lists them in full.

When a tenure *resumes* a view this agent already synced (``ctx.tenure_start.resumes``: an agent
or Fusion restart, a renewed session), there is no snapshot: the first audit runs at once, from
the directory cache saved after the last complete scan, and finds what changed meanwhile — a
directory whose mtime moved (entries created, deleted, renamed) is listed in full. The deep
schedule's progress is saved with the cache (``ctx.mode_state``) and picked up again, so files
rewritten in place while nobody watched are still found within one deep period. After each audit
the agent saves the cache (``ctx.scan_completed``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RegisterSyncMode, RowDict, SyncContext, forget_listings
from fustor_core.logs import log_event
from fustor_sync_audit.deep import DeepPlan, DeepSchedule
from fustor_sync_audit.fresh import FreshMode
from fustor_sync_audit.options import AuditOptions, AuditRequest, FreshOptions

logger = logging.getLogger(__name__)

DEEP_STATE_KEY = "deep"
"""Where the deep schedule's progress is kept in ``ctx.mode_state``."""


class AuditMode:
    """An audit every ``interval_s``, and on request."""

    name = "audit"
    leader_only = True
    order = 20
    triggerable = True
    trigger_options = AuditRequest
    """``POST .../audit`` may ask for ``{"deep": true}``."""

    def __init__(self, options: AuditOptions | None = None) -> None:
        self.options = options or AuditOptions()
        self.runs = 0
        self.schedule: DeepSchedule | None = None

    async def run(self, ctx: SyncContext) -> None:
        resuming = ctx.tenure_start.resumes
        # a new tenure's snapshot just listed everything: a new deep cycle; a resumed one goes on
        self.schedule = self._resumed_schedule(ctx) if resuming else self._new_schedule(ctx)
        ctx.ready()
        ctx.report(state="waiting", deep=self.schedule.status(), resumed=resuming)
        while True:
            if resuming:  # no snapshot ran: find what changed since the saved cache at once
                resuming, request = False, {}
            else:
                woken = await ctx.wait_for_trigger(self.options.interval_s)
                request = dict(ctx.requested) if woken else {}
            async with ctx.scan_lock:
                await self.audit_once(ctx, deep=bool(request.get("deep")), relist=request.get("relist") or ())

    def _new_schedule(self, ctx: SyncContext) -> DeepSchedule:
        return DeepSchedule(self.options.deep_period_s, self.options.interval_s)

    def _resumed_schedule(self, ctx: SyncContext) -> DeepSchedule:
        schedule = self._new_schedule(ctx)
        saved = ctx.mode_state.get(DEEP_STATE_KEY)
        if isinstance(saved, dict) and not schedule.restore(saved):
            log_event(
                logger,
                logging.INFO,
                "deep audit settings changed since the cache was saved; a new deep cycle starts",
                pipe=ctx.pipe,
            )
        return schedule

    async def audit_once(self, ctx: SyncContext, *, deep: bool = False, relist: Sequence[str] = ()) -> None:
        """One audit: forget ``relist``'s subtrees, walk (deep-checking this audit's slice, or
        everything with ``deep``), frame it with start/end signals, report."""
        if self.schedule is None:
            self.schedule = self._new_schedule(ctx)
        schedule = self.schedule
        clock = time.monotonic()
        forgotten = forget_listings(ctx.dir_cache, relist) if relist else 0
        plan = schedule.plan(time.time(), full=deep)
        seen = {"files": 0, "dirs_listed": 0, "dirs_skipped": 0, "dirs_deep_checked": 0}
        ctx.report(
            state="auditing",
            started_at=time.time(),
            deep_requested=deep,
            relisted=list(relist)[:20],
            **seen,
            deep=_deep_status(schedule, plan),
        )
        await ctx.signal("audit/start", wait=False)

        async def publish(rows: list[RowDict]) -> None:
            await ctx.publish(OutgoingEvent("audit", "insert", rows))
            for row in rows:
                if not row.get("is_dir"):
                    seen["files"] += 1
                elif row.get("audit_skipped"):
                    seen["dirs_skipped"] += 1
                else:
                    seen["dirs_listed"] += 1
                    if plan is not None and plan(row["path"]):
                        seen["dirs_deep_checked"] += 1
            ctx.report(**seen)

        batch_size = ctx.settings.batch_size
        await ctx.pump(lambda stop: ctx.source.audit(stop, batch_size, ctx.dir_cache, deep=plan), publish)
        scanned_s = round(time.monotonic() - clock, 3)
        answer = await ctx.signal("audit/end") or {}
        if plan is not None:
            schedule.done(plan, seen["dirs_deep_checked"], time.time())
        ctx.mode_state[DEEP_STATE_KEY] = schedule.state()
        await ctx.scan_completed()
        self.runs += 1
        duration = round(time.monotonic() - clock, 3)
        deleted = answer.get("deleted", 0)
        ctx.report(
            state="waiting",
            runs=self.runs,
            last_finished_at=time.time(),
            last_duration_s=duration,
            last_scan_s=scanned_s,
            last_deleted=deleted,
            deep=_deep_status(schedule, None),
        )
        log_event(
            logger,
            logging.INFO,
            "audit complete",
            pipe=ctx.pipe,
            duration_s=duration,
            deleted=deleted,
            deep_slices=f"{plan.first}-{plan.end - 1}/{plan.slices}" if plan is not None else "off",
            relisted=len(relist),
            cache_entries_forgotten=forgotten,
            **seen,
        )


def _deep_status(schedule: DeepSchedule, running: DeepPlan | None) -> dict[str, Any]:
    status = schedule.status()
    if running is not None:
        status["running"] = {"first": running.first, "end": running.end, "full": running.full}
    return status


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("audit", AuditMode, options=AuditOptions)
    register("fresh", FreshMode, options=FreshOptions)


__all__ = [
    "AuditMode",
    "AuditOptions",
    "AuditRequest",
    "DeepPlan",
    "DeepSchedule",
    "FreshMode",
    "FreshOptions",
    "fustor_sync_modes",
]

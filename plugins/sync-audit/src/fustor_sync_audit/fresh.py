"""Sync mode ``fresh`` (leader only): re-list a path the moment a ``fresh=true`` query asks.

The mode long-polls Fusion's task channel for the leader (``ctx.leader_tasks``): Fusion answers
as soon as a query ``GET /tree?path=X&fresh=true`` is waiting, not on an interval. For each task
the source re-lists X (:meth:`~fustor_core.agent_api.Source.relist`: every directory at or below
it listed and every file stat'ed, no mtime skip) in an audit of its own — framed by
``audit/start`` and ``audit/end``, so Fusion removes what the listed directories no longer hold
— and once Fusion answered the end (every row applied), the mode reports the task done and the
query answers. Tasks that arrive together share one audit. Listings take the scan lock, so they
never overlap a snapshot or a periodic audit (a query may then wait for that scan to finish).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from fustor_core.agent_api import LeaderTask, OutgoingEvent, RowDict, SyncContext
from fustor_core.errors import FustorError
from fustor_core.logs import log_event
from fustor_sync_audit.options import FreshOptions

logger = logging.getLogger(__name__)

RETRY_S = 1.0
"""Pause after a failed poll (Fusion unreachable, session renewed) before the next one."""


class FreshMode:
    """Relistings on request from Fusion's task channel."""

    name = "fresh"
    leader_only = True
    order = 25
    triggerable = False

    def __init__(self, options: FreshOptions | None = None) -> None:
        self.options = options or FreshOptions()
        self.runs = 0

    async def run(self, ctx: SyncContext) -> None:
        ctx.ready()
        relist = getattr(ctx.source, "relist", None)  # optional: RelistingSource
        if relist is None:
            ctx.report(state="unsupported", reason="the source cannot re-list a path")
            return  # Fusion sees a leader that never polls and answers fresh queries 503
        ctx.report(state="waiting")
        while True:
            try:
                tasks = await ctx.leader_tasks(self.options.poll_s)
            except NotImplementedError:
                ctx.report(state="unsupported", reason="the pusher has no task channel")
                return
            except FustorError as exc:
                ctx.report(state="waiting", last_error=exc.message)
                await asyncio.sleep(RETRY_S)
                continue
            if tasks:
                async with ctx.scan_lock:
                    await self.relist_once(ctx, tasks)

    async def relist_once(self, ctx: SyncContext, tasks: list[LeaderTask]) -> None:
        """One audit that re-lists every task's path, then each task reported done."""
        clock = time.monotonic()
        seen = {"files": 0, "dirs_listed": 0}
        listed: dict[str, str] = {}
        errors: dict[str, str] = {}
        ctx.report(state="listing", paths=[task["path"] for task in tasks][:20])
        await ctx.signal("audit/start", wait=False)

        async def publish(rows: list[RowDict]) -> None:
            await ctx.publish(OutgoingEvent("audit", "insert", rows))
            for row in rows:
                if not row.get("is_dir"):
                    seen["files"] += 1
                elif not row.get("audit_skipped"):
                    seen["dirs_listed"] += 1

        batch_size = ctx.settings.batch_size
        for task in tasks:
            path = task["path"]
            if path in listed or path in errors:
                continue
            try:
                rows_from = _relisting(ctx, batch_size, path, listed)
                await ctx.pump(rows_from, publish)
            except (ValueError, OSError) as exc:
                errors[path] = str(exc)
        await ctx.signal("audit/end")
        took = round(time.monotonic() - clock, 3)
        for task in tasks:
            path = task["path"]
            report: dict[str, Any] = (
                {"error": errors[path]}
                if path in errors
                else {"listed": listed.get(path, path), "took_s": took, **seen}
            )
            await ctx.task_done(task["id"], report)
        self.runs += 1
        ctx.report(state="waiting", runs=self.runs, last_run_at=time.time(), last_duration_s=took, **seen)
        log_event(
            logger, logging.INFO, "relisted on request", pipe=ctx.pipe, paths=len(tasks), took_s=took, **seen
        )


def _relisting(ctx: SyncContext, batch_size: int, path: str, listed: dict[str, str]) -> Any:
    """The producer for :meth:`SyncContext.pump`: the source's relisting of ``path``, noting which
    directory was actually listed (the first row's)."""

    def produce(stop: Any) -> Any:
        for rows in ctx.source.relist(stop, batch_size, ctx.dir_cache, path):  # type: ignore[attr-defined]
            if rows and path not in listed:
                listed[path] = str(rows[0]["path"])
            yield rows

    return produce

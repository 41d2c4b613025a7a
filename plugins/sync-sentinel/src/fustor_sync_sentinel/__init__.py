"""Sync mode ``sentinel`` (leader only): re-check the paths Fusion is unsure about.

Every ``interval_s`` (its options, :class:`SentinelOptions`; or on request) it asks Fusion for
up to ``max_paths`` of its suspects, has the source ``lstat`` them, and sends back their current
existence, mtime and size — a few stats instead of a scan, which is how a file still being
written is watched until it settles. A path the source could not stat (EIO, ESTALE, EACCES, ...)
is left out of the feedback: it is not known to be gone, so Fusion keeps it (and it stays a
suspect, re-checked next time); the source counts the failure in the pipe's ``stat_errors``.
"""

from __future__ import annotations

import logging
import time

from fustor_core import hookimpl
from fustor_core.agent_api import RegisterSyncMode, SyncContext
from fustor_core.errors import FustorError
from fustor_core.logs import log_event
from fustor_sync_sentinel.options import SentinelOptions

logger = logging.getLogger(__name__)


class SentinelMode:
    """A sweep over Fusion's suspects every ``interval_s``, and on request."""

    name = "sentinel"
    leader_only = True
    order = 30
    triggerable = True

    def __init__(self, options: SentinelOptions | None = None) -> None:
        self.options = options or SentinelOptions()
        self.runs = 0

    async def run(self, ctx: SyncContext) -> None:
        ctx.ready()
        ctx.report(state="waiting")
        while True:
            await ctx.wait_for_trigger(self.options.interval_s)
            try:
                await self.sweep_once(ctx)
            except FustorError as exc:  # Fusion unreachable or refusing: try next time
                ctx.report(state="waiting", last_error=exc.message)
                log_event(logger, logging.WARNING, "sentinel sweep failed", pipe=ctx.pipe, error=exc.message)

    async def sweep_once(self, ctx: SyncContext) -> None:
        """One page of suspects per sweep: Fusion hands out the most urgent first."""
        ctx.report(state="checking")
        paths = await ctx.sentinel_tasks(self.options.max_paths)
        updates = await ctx.run_blocking(ctx.source.recheck, paths) if paths else []
        changed = 0
        if updates:
            answer = await ctx.sentinel_feedback(updates)
            changed = int(answer.get("accepted", 0))
        self.runs += 1
        ctx.report(
            state="waiting",
            runs=self.runs,
            last_run_at=time.time(),
            last_checked=len(paths),
            last_unresolved=len(paths) - len(updates),
            last_changed=changed,
        )


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("sentinel", SentinelMode, options=SentinelOptions)


__all__ = ["SentinelMode", "SentinelOptions", "fustor_sync_modes"]

"""Sync mode ``snapshot`` (leader only): one full walk of the tree, framed by start/end signals.

It runs at the start of a leader tenure that starts with a snapshot (``ctx.tenure_start``): when
Fusion's view is new to this agent — first leadership, a failover to an agent that never synced
this view, a Fusion that lost its view — beside realtime, which was started before it. When the
tenure resumes a view this agent already synced, the snapshot stands aside and the audit mode
finds what changed. ``snapshot/end`` is sent after every snapshot row and waits for Fusion to
apply them; then the agent saves the directory cache the walk filled (``ctx.scan_completed``).
It runs again on request (the agent API's ``POST .../snapshot``), resumed tenure or not.
"""

from __future__ import annotations

import logging
import time

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RegisterSyncMode, RowDict, SyncContext
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)


class SnapshotMode:
    """Full walk at the start of each leader tenure, then on request."""

    name = "snapshot"
    leader_only = True
    order = 10
    triggerable = True

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, ctx: SyncContext) -> None:
        start = ctx.tenure_start
        if start.resumes:
            ctx.ready()  # the audit resumes the view at once; we run only on request
            ctx.report(state="standing aside", standing_aside_because=start.detail)
        else:
            async with ctx.scan_lock:
                ctx.ready()
                await self.snapshot_once(ctx)
        while True:
            await ctx.wait_for_trigger(None)
            async with ctx.scan_lock:
                await self.snapshot_once(ctx)

    async def snapshot_once(self, ctx: SyncContext) -> None:
        started = time.time()
        clock = time.monotonic()
        scanned = {"files": 0, "dirs": 0}
        ctx.report(state="scanning", started_at=started, files=0, dirs=0, rate=0.0)
        await ctx.signal("snapshot/start", wait=False)

        async def publish(rows: list[RowDict]) -> None:
            await ctx.publish(OutgoingEvent("snapshot", "insert", rows))
            dirs = sum(1 for row in rows if row.get("is_dir"))
            scanned["dirs"] += dirs
            scanned["files"] += len(rows) - dirs
            elapsed = max(time.monotonic() - clock, 1e-6)
            ctx.report(rate=round((scanned["files"] + scanned["dirs"]) / elapsed), **scanned)

        batch_size = ctx.settings.batch_size
        await ctx.pump(lambda stop: ctx.source.snapshot(stop, batch_size, ctx.dir_cache), publish)
        ctx.report(state="finishing", scanned_s=round(time.monotonic() - clock, 3))
        await ctx.signal("snapshot/end")
        await ctx.scan_completed()
        self.runs += 1
        duration = round(time.monotonic() - clock, 3)
        ctx.report(
            state="idle",
            runs=self.runs,
            last_finished_at=time.time(),
            last_duration_s=duration,
            standing_aside_because=None,
        )
        log_event(logger, logging.INFO, "snapshot complete", pipe=ctx.pipe, duration_s=duration, **scanned)


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("snapshot", SnapshotMode)


__all__ = ["SnapshotMode", "fustor_sync_modes"]

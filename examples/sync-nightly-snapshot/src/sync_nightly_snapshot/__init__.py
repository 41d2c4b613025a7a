"""Sync mode ``nightly-snapshot`` (leader only): a full snapshot every ``interval_s`` seconds and
on request (``sync-snapshot`` runs one only at the start of a leader tenure). A snapshot lists
everything, so Fusion also removes what vanished unseen."""

from __future__ import annotations

from pydantic import Field

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RegisterSyncMode, RowDict, SyncContext
from fustor_core.config import FustorConfig


class NightlyOptions(FustorConfig):
    interval_s: float = Field(default=24 * 3600, gt=0)  # pipes.N.modes.nightly-snapshot.interval_s


class NightlySnapshot:
    name = "nightly-snapshot"
    leader_only = True
    order = 40
    triggerable = True  # POST /api/v1/pipes/{pipe}/nightly-snapshot runs it now

    def __init__(self, options: NightlyOptions) -> None:
        self.options = options
        self.runs = 0

    async def run(self, ctx: SyncContext) -> None:
        size = ctx.settings.batch_size
        ctx.ready()
        while True:
            await ctx.wait_for_trigger(self.options.interval_s)
            async with ctx.scan_lock:  # never beside another scan
                await ctx.signal("snapshot/start", wait=False)

                async def publish(rows: list[RowDict]) -> None:
                    await ctx.publish(OutgoingEvent("snapshot", "insert", rows))

                await ctx.pump(lambda stop: ctx.source.snapshot(stop, size, ctx.dir_cache), publish)
                await ctx.signal("snapshot/end")  # returns once Fusion applied every row
                self.runs += 1
                ctx.report(state="waiting", runs=self.runs)


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("nightly-snapshot", NightlySnapshot, options=NightlyOptions)

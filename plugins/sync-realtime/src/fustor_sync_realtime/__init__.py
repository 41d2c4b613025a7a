"""Sync mode ``realtime``: stream the source's realtime events (every agent, leader or not).

It starts first: the agent starts the other modes only once the source says its watch is in
place, so a snapshot never misses a change made while it was still being set up.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RegisterSyncMode, SyncContext


class RealtimeMode:
    """Pumps ``source.watch()`` into the bus; the bus's backpressure reaches the watcher."""

    name = "realtime"
    leader_only = False
    order = 0

    async def run(self, ctx: SyncContext) -> None:
        ctx.report(state="starting")

        def ready() -> None:
            ctx.report(state="watching")
            ctx.ready()

        batch_size = ctx.settings.batch_size

        def watch(stop: threading.Event) -> Iterator[list[OutgoingEvent]]:
            return ctx.source.watch(stop, ready, batch_size)

        async def publish(events: list[OutgoingEvent]) -> None:
            for event in events:
                await ctx.publish(event)

        await ctx.pump(watch, publish)


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("realtime", RealtimeMode)


__all__ = ["RealtimeMode", "fustor_sync_modes"]

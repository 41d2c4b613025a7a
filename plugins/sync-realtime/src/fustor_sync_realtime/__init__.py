"""Sync mode ``realtime``: stream the source's realtime events (every agent, leader or not).

It starts first: the agent starts the other modes only once the source says its watch is in
place, so a snapshot never misses a change made while it was still being set up. When the
source says it may have missed changes (an :class:`~fustor_core.agent_api.EventsLost`: queue
overflow, lost watch), it asks the agent for a relisting of those subtrees: on the leader the
audit runs at once and lists them in full; a follower's losses are covered by the leader's audits.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from fustor_core import hookimpl
from fustor_core.agent_api import EventsLost, RealtimeItem, RegisterSyncMode, SyncContext


class RealtimeMode:
    """Pumps ``source.watch()`` into the bus; the bus's backpressure reaches the watcher."""

    name = "realtime"
    leader_only = False
    order = 0
    triggerable = False
    """It streams all the time: there is nothing to run now."""

    async def run(self, ctx: SyncContext) -> None:
        ctx.report(state="starting")

        def ready() -> None:
            ctx.report(state="watching")
            ctx.ready()

        batch_size = ctx.settings.batch_size

        def watch(stop: threading.Event) -> Iterator[list[RealtimeItem]]:
            return ctx.source.watch(stop, ready, batch_size)

        async def publish(items: list[RealtimeItem]) -> None:
            for item in items:
                if isinstance(item, EventsLost):
                    ctx.request_relisting(item.paths, item.reason)
                else:
                    await ctx.publish(item)

        await ctx.pump(watch, publish)


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("realtime", RealtimeMode)


__all__ = ["RealtimeMode", "fustor_sync_modes"]

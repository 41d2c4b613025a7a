"""The realtime mode: ready once the source watches, then every event published in order.

Driven with the ``sync_context`` and ``fake_source`` fixtures of core's pytest plugin.
"""

from __future__ import annotations

import asyncio

from fustor_core.agent_api import EventsLost, OutgoingEvent
from fustor_core.testing import MakeFakeSource, MakeSyncContext
from fustor_sync_realtime import RealtimeMode


def test_ready_comes_from_the_watching_thread_and_events_keep_their_order(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    source = fake_source(
        realtime=[
            [
                OutgoingEvent("realtime", "delete", [{"path": "/old"}]),
                OutgoingEvent("realtime", "insert", [{"path": "/new"}]),
            ],
            [OutgoingEvent("realtime", "update", [{"path": "/new"}]), EventsLost(("/",), "overflow")],
        ]
    )
    ctx = sync_context(source, batch_size=7)
    asyncio.run(RealtimeMode().run(ctx))
    assert ctx.log == [
        ("ready",),
        ("publish", "realtime", "delete", ["/old"]),
        ("publish", "realtime", "insert", ["/new"]),
        ("publish", "realtime", "update", ["/new"]),
        ("relist", ("/",), "overflow"),  # lost events: the agent is asked for a relisting, in order
    ]
    assert ctx.ready_calls[0].in_worker_thread, "ready() comes from the source's own thread"
    assert source.called("watch")[0].batch_size == 7
    assert ctx.progress["state"] == "watching"
    assert RealtimeMode.leader_only is False and RealtimeMode.order == 0


def test_cancelling_the_mode_ends_the_watch_in_its_thread(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    async def scenario() -> None:
        source = fake_source(keep_watching=True)
        ctx = sync_context(source)
        task = asyncio.create_task(RealtimeMode().run(ctx))
        await asyncio.to_thread(ctx.ready_event.wait, 10)
        assert not source.watch_ended.is_set(), "a live stream runs until told to stop"
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert await asyncio.to_thread(source.watch_ended.wait, 10), "the pump set the watch's stop"

    asyncio.run(asyncio.wait_for(scenario(), 10))

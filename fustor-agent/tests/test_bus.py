"""The event bus: bounded, ordered, nothing dropped, freed once every subscriber took it."""

from __future__ import annotations

import asyncio

import pytest

from fustor_agent.bus import EventBus
from fustor_core.agent_api import OutgoingEvent, Signal


def event(n: int, rows: int = 1) -> OutgoingEvent:
    return OutgoingEvent("realtime", "insert", [{"path": f"/f{n}-{i}"} for i in range(rows)], index=n)


def test_a_slow_subscriber_makes_the_producer_wait_and_loses_nothing() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=10)
        sub = bus.subscribe("pusher")
        received: list[int] = []
        depths: list[int] = []

        async def produce() -> None:
            for n in range(200):
                await bus.publish(event(n))
                depths.append(bus.depth)
            await bus.close()

        async def slow_consume() -> None:
            while items := await sub.take(max_rows=3):
                received.extend(item.index for item in items if isinstance(item, OutgoingEvent))
                await asyncio.sleep(0.001)  # slower than the producer

        await asyncio.gather(produce(), slow_consume())
        assert received == list(range(200))
        assert max(depths) <= 10
        assert bus.producer_waits > 0
        assert bus.depth == 0

    asyncio.run(scenario())


def test_an_item_is_freed_only_when_every_subscriber_took_it() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=5)
        fast, slow = bus.subscribe("fast"), bus.subscribe("slow")
        for n in range(5):
            await bus.publish(event(n))
        assert len(await fast.take(100)) == 5
        assert bus.depth == 5  # the slow subscriber still needs them
        publisher = asyncio.create_task(bus.publish(event(5)))
        await asyncio.sleep(0.01)
        assert not publisher.done()  # full until the slow one catches up
        assert [item.index for item in await slow.take(2)] == [0, 1]  # type: ignore[union-attr]
        await asyncio.wait_for(publisher, 1)
        assert bus.depth == 4
        assert [item.index for item in await fast.take(100)] == [5]  # type: ignore[union-attr]
        assert [item.index for item in await slow.take(100)] == [2, 3, 4, 5]  # type: ignore[union-attr]
        assert bus.depth == 0

    asyncio.run(scenario())


def test_capacity_counts_rows_and_an_oversized_event_enters_an_empty_bus() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=100)
        sub = bus.subscribe("pusher")
        await asyncio.wait_for(bus.publish(event(0, rows=250)), 1)  # bigger than the bus: allowed when empty
        blocked = asyncio.create_task(bus.publish(event(1, rows=1)))
        await asyncio.sleep(0.01)
        assert not blocked.done()
        taken = await sub.take(max_rows=10)
        assert len(taken) == 1 and len(taken[0].rows) == 250  # type: ignore[union-attr]
        await asyncio.wait_for(blocked, 1)

    asyncio.run(scenario())


def test_take_never_splits_events_and_keeps_signals_in_order() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=1000)
        sub = bus.subscribe("pusher")
        await bus.publish(event(0, rows=4))
        await bus.publish(Signal("audit/end"))
        await bus.publish(event(1, rows=4))
        first = await sub.take(max_rows=6)
        assert [type(item).__name__ for item in first] == ["OutgoingEvent", "Signal"]
        second = await sub.take(max_rows=2)
        assert len(second) == 1 and len(second[0].rows) == 4  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_linger_waits_for_more_rows_and_idle_take_returns_at_once() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=1000)
        sub = bus.subscribe("pusher")
        await bus.publish(event(0))
        assert len(await asyncio.wait_for(sub.take(100), 0.5)) == 1  # idle: no waiting for a full batch

        await bus.publish(event(1))

        async def late() -> None:
            await asyncio.sleep(0.02)
            await bus.publish(event(2))

        task = asyncio.create_task(late())
        taken = await sub.take(100, linger_s=0.5)
        await task
        assert [item.index for item in taken] == [1, 2]  # type: ignore[union-attr]

    asyncio.run(scenario())


def test_a_closed_bus_is_drained_then_says_so_and_refuses_more() -> None:
    async def scenario() -> None:
        bus = EventBus(capacity=10)
        sub = bus.subscribe("pusher")
        await bus.publish(event(0))
        await bus.close()
        assert len(await sub.take(10)) == 1
        assert await sub.take(10) == []
        with pytest.raises(RuntimeError):
            await bus.publish(event(1))

    asyncio.run(scenario())

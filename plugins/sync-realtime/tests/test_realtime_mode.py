"""The realtime mode: ready once the source watches, then every event published in order."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from fustor_core.agent_api import EventsLost, OutgoingEvent, RealtimeItem
from fustor_sync_realtime import RealtimeMode


class Source:
    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int
    ) -> Iterator[list[RealtimeItem]]:
        assert batch_size == 7
        ready()
        yield [
            OutgoingEvent("realtime", "delete", [{"path": "/old"}]),
            OutgoingEvent("realtime", "insert", [{"path": "/new"}]),
        ]
        yield [OutgoingEvent("realtime", "update", [{"path": "/new"}]), EventsLost(("/",), "overflow")]


class Context:
    def __init__(self) -> None:
        self.source = Source()
        self.settings = SimpleNamespace(batch_size=7)
        self.log: list[Any] = []
        self.progress: dict[str, Any] = {}

    def ready(self) -> None:
        self.log.append(("ready", threading.current_thread() is not threading.main_thread()))

    async def publish(self, event: OutgoingEvent) -> None:
        self.log.append((event.event_type, event.rows[0]["path"]))

    async def pump(
        self, produce: Callable[[threading.Event], Iterable[Any]], consume: Callable[[Any], Awaitable[None]]
    ) -> None:
        for item in await asyncio.to_thread(lambda: list(produce(threading.Event()))):
            await consume(item)

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)

    def request_relisting(self, paths: tuple[str, ...], reason: str) -> bool:
        self.log.append(("relist", paths, reason))
        return True


def test_ready_comes_from_the_watching_thread_and_events_keep_their_order() -> None:
    ctx = Context()
    asyncio.run(RealtimeMode().run(ctx))  # type: ignore[arg-type]
    assert ctx.log == [
        ("ready", True),
        ("delete", "/old"),
        ("insert", "/new"),
        ("update", "/new"),
        ("relist", ("/",), "overflow"),  # lost events: the agent is asked for a relisting, in order
    ]
    assert ctx.progress["state"] == "watching"
    assert RealtimeMode.leader_only is False and RealtimeMode.order == 0

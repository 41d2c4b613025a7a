"""The snapshot mode: one walk framed by start/end, at tenure start and then on request."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from fustor_core.agent_api import SNAPSHOT_START, OutgoingEvent, TenureStart
from fustor_sync_snapshot import SnapshotMode

RESUMED = TenureStart("audit", "view_restored", "Fusion restored the view")


class Source:
    def __init__(self, batches: list[list[dict[str, Any]]]) -> None:
        self.batches = batches
        self.calls: list[tuple[int, object]] = []

    def snapshot(
        self, stop: threading.Event, batch_size: int, dir_cache: object
    ) -> Iterator[list[dict[str, Any]]]:
        self.calls.append((batch_size, dir_cache))
        yield from self.batches


class Context:
    """Records what the mode does, in order."""

    def __init__(self, source: Source, tenure_start: TenureStart = SNAPSHOT_START) -> None:
        self.pipe = "demo"
        self.tenure_start = tenure_start
        self.mode_state: dict[str, Any] = {}
        self.datastore = "demo"
        self.source = source
        self.settings = SimpleNamespace(batch_size=2)
        self.dir_cache: dict[str, Any] = {}
        self.scan_lock = asyncio.Lock()
        self.log: list[Any] = []
        self.progress: dict[str, Any] = {}
        self.triggers: asyncio.Queue[bool] = asyncio.Queue()

    def ready(self) -> None:
        self.log.append(("ready", self.scan_lock.locked()))

    async def publish(self, event: OutgoingEvent) -> None:
        self.log.append((event.message_source, event.event_type, [row["path"] for row in event.rows]))

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        self.log.append(("signal", name, wait))
        return {"signal": name} if wait else None

    async def pump(
        self, produce: Callable[[threading.Event], Iterable[Any]], consume: Callable[[Any], Awaitable[None]]
    ) -> None:
        for item in await asyncio.to_thread(lambda: list(produce(threading.Event()))):
            await consume(item)

    async def wait_for_trigger(self, timeout: float | None) -> bool:
        return await self.triggers.get()

    async def scan_completed(self) -> None:
        self.log.append(("scan_completed", self.scan_lock.locked()))

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)


def test_a_snapshot_is_framed_by_start_and_end_around_its_rows() -> None:
    async def scenario() -> None:
        source = Source([[{"path": "/a", "is_dir": True}, {"path": "/a/f"}], [{"path": "/g"}]])
        ctx = Context(source)
        await SnapshotMode().snapshot_once(ctx)  # type: ignore[arg-type]
        assert ctx.log == [
            ("signal", "snapshot/start", False),
            ("snapshot", "insert", ["/a", "/a/f"]),
            ("snapshot", "insert", ["/g"]),
            ("signal", "snapshot/end", True),
            ("scan_completed", False),  # after the end was acknowledged: the agent saves the cache
        ]
        assert source.calls == [(2, ctx.dir_cache)]  # seeds the tenure's audit cache
        assert ctx.progress["files"] == 2 and ctx.progress["dirs"] == 1 and ctx.progress["runs"] == 1

    asyncio.run(scenario())


def test_the_mode_scans_at_once_under_the_scan_lock_then_again_only_on_request() -> None:
    async def scenario() -> None:
        ctx = Context(Source([[{"path": "/x"}]]))
        task = asyncio.create_task(SnapshotMode().run(ctx))  # type: ignore[arg-type]
        while ctx.progress.get("runs") != 1:
            await asyncio.sleep(0.001)
        assert ctx.log[0] == ("ready", True)
        ctx.triggers.put_nowait(True)
        while ctx.progress.get("runs") != 2:
            await asyncio.sleep(0.001)
        task.cancel()
        assert SnapshotMode.leader_only and SnapshotMode.order > 0

    asyncio.run(scenario())


def test_a_resumed_tenure_has_no_snapshot_until_one_is_requested() -> None:
    async def scenario() -> None:
        source = Source([[{"path": "/x"}]])
        ctx = Context(source, RESUMED)
        task = asyncio.create_task(SnapshotMode().run(ctx))  # type: ignore[arg-type]
        while not ctx.log:
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.02)
        assert ctx.log == [("ready", False)] and source.calls == []  # ready at once, no walk
        assert ctx.progress["state"] == "standing aside"
        assert ctx.progress["standing_aside_because"] == "Fusion restored the view"
        ctx.triggers.put_nowait(True)  # the API's POST .../snapshot
        while ctx.progress.get("runs") != 1:
            await asyncio.sleep(0.001)
        task.cancel()
        assert len(source.calls) == 1 and ("scan_completed", True) in ctx.log

    asyncio.run(scenario())

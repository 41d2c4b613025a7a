"""The audit mode: periodic, framed by start/end, never beside another scan."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from fustor_core.agent_api import OutgoingEvent
from fustor_sync_audit import AuditMode


class Source:
    def __init__(self) -> None:
        self.audits = 0

    def audit(
        self, stop: threading.Event, batch_size: int, dir_cache: dict[str, Any]
    ) -> Iterator[list[dict[str, Any]]]:
        self.audits += 1
        dir_cache["/"] = "seen"
        yield [
            {"path": "/", "is_dir": True, "audit_skipped": True},
            {"path": "/changed", "is_dir": True},
            {"path": "/changed/f", "parent_path": "/changed", "parent_mtime": 1.0},
        ]


class Context:
    def __init__(self) -> None:
        self.pipe = "demo"
        self.source = Source()
        self.settings = SimpleNamespace(batch_size=100, audit_interval_s=0.01)
        self.dir_cache: dict[str, Any] = {}
        self.scan_lock = asyncio.Lock()
        self.log: list[Any] = []
        self.progress: dict[str, Any] = {}
        self.waits: list[float | None] = []

    def ready(self) -> None:
        self.log.append("ready")

    async def publish(self, event: OutgoingEvent) -> None:
        self.log.append((event.message_source, len(event.rows)))

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        self.log.append(name)
        return {"deleted": 3} if wait else None

    async def pump(
        self, produce: Callable[[threading.Event], Iterable[Any]], consume: Callable[[Any], Awaitable[None]]
    ) -> None:
        for item in await asyncio.to_thread(lambda: list(produce(threading.Event()))):
            await consume(item)

    async def wait_for_trigger(self, timeout: float | None) -> bool:
        self.waits.append(timeout)
        await asyncio.sleep(timeout or 0)
        return False

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)


def test_an_audit_is_framed_and_reports_what_it_saw() -> None:
    async def scenario() -> None:
        ctx = Context()
        await AuditMode().audit_once(ctx)  # type: ignore[arg-type]
        assert ctx.log == ["audit/start", ("audit", 3), "audit/end"]
        assert (
            ctx.progress["files"] == 1
            and ctx.progress["dirs_skipped"] == 1
            and ctx.progress["dirs_listed"] == 1
        )
        assert ctx.progress["last_deleted"] == 3 and ctx.progress["runs"] == 1
        assert ctx.dir_cache == {"/": "seen"}  # the tenure's cache is the one handed to the source

    asyncio.run(scenario())


def test_audits_repeat_every_interval_and_wait_for_a_running_scan() -> None:
    async def scenario() -> None:
        ctx = Context()
        await ctx.scan_lock.acquire()  # a snapshot is running
        task = asyncio.create_task(AuditMode().run(ctx))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert ctx.source.audits == 0 and ctx.log == ["ready"]
        ctx.scan_lock.release()
        while ctx.source.audits < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        assert set(ctx.waits) == {0.01}
        assert AuditMode.leader_only

    asyncio.run(scenario())

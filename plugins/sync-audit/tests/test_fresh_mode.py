"""The ``fresh`` mode: a task from the channel is re-listed in an audit of its own and reported
done only after the audit's end was answered."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from fustor_core.agent_api import OutgoingEvent
from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_sync_audit import FreshMode, FreshOptions


class Source:
    def relist(
        self, stop: threading.Event, batch_size: int, dir_cache: dict[str, Any], path: str
    ) -> Iterator[list[dict[str, Any]]]:
        if path == "/bad":
            raise ValueError("not a datastore path: '/bad'")
        listed = path.rsplit("/", 1)[0] or "/" if path.endswith(".dat") else path
        yield [{"path": listed, "is_dir": True}, {"path": listed + "/f.dat", "size": 3}]


class Context:
    def __init__(self, tasks: list[list[dict[str, Any]]]) -> None:
        self.pipe = "demo"
        self.source = Source()
        self.settings = SimpleNamespace(batch_size=100)
        self.dir_cache: dict[str, Any] = {}
        self.scan_lock = asyncio.Lock()
        self.log: list[Any] = []
        self.progress: dict[str, Any] = {}
        self.tasks = tasks

    def ready(self) -> None:
        self.log.append("ready")

    async def publish(self, event: OutgoingEvent) -> None:
        self.log.append((event.message_source, len(event.rows)))

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        self.log.append(name)
        return {} if wait else None

    async def pump(
        self, produce: Callable[[threading.Event], Iterable[Any]], consume: Callable[[Any], Awaitable[None]]
    ) -> None:
        for item in await asyncio.to_thread(lambda: list(produce(threading.Event()))):
            await consume(item)

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)

    async def leader_tasks(self, wait_s: float) -> list[dict[str, Any]]:
        self.log.append(("poll", wait_s))
        if self.tasks:
            return self.tasks.pop(0)
        await asyncio.sleep(3600)
        return []

    async def task_done(self, task_id: str, report: dict[str, Any]) -> None:
        self.log.append(("done", task_id, report.get("listed"), report.get("error")))


def test_tasks_are_relisted_in_one_audit_then_reported_done_in_order() -> None:
    async def scenario() -> None:
        ctx = Context(
            [
                [
                    {"id": "t1", "kind": "relist", "path": "/runs/r1"},
                    {"id": "t2", "kind": "relist", "path": "/runs/r2/x.dat"},
                    {"id": "t3", "kind": "relist", "path": "/bad"},
                ]
            ]
        )
        task = asyncio.create_task(FreshMode(FreshOptions(poll_s=5)).run(ctx))  # type: ignore[arg-type]
        while (
            not any(entry[0] == "done" for entry in ctx.log if isinstance(entry, tuple)) or len(ctx.log) < 10
        ):
            await asyncio.sleep(0.001)
        task.cancel()
        assert ctx.log[:8] == [
            "ready",
            ("poll", 5),
            "audit/start",
            ("audit", 2),
            ("audit", 2),
            "audit/end",  # every row applied before any task is reported done
            ("done", "t1", "/runs/r1", None),
            ("done", "t2", "/runs/r2", None),  # a file: its directory was listed
        ]
        assert ctx.log[8] == ("done", "t3", None, "not a datastore path: '/bad'")
        assert ctx.progress["files"] == 2 and ctx.progress["dirs_listed"] == 2

    asyncio.run(scenario())


def test_the_mode_is_registered_with_its_options_and_leads_only() -> None:
    registration = collect_registrations(get_plugin_manager(only=["sync-audit"]), "fustor_sync_modes", "mode")
    assert registration["fresh"].options is FreshOptions
    assert FreshMode.leader_only and not FreshMode.triggerable
    assert FreshMode().options.poll_s == 30

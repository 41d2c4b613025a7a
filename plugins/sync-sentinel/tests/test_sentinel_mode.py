"""The sentinel mode: Fusion's suspects are re-checked and the results sent back."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from fustor_core.errors import FustorError
from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_sync_sentinel import SentinelMode, SentinelOptions

FAST = SentinelOptions(interval_s=0.001)


class Source:
    def __init__(self) -> None:
        self.rechecked: list[list[str]] = []

    def recheck(self, paths: Sequence[str]) -> list[dict[str, Any]]:
        self.rechecked.append(list(paths))
        # a path whose stat failed (EIO, ...) is left out: it is not known to be gone
        return [{"path": p, "exists": p != "/gone", "mtime": 1.0, "size": 2} for p in paths if p != "/eio"]


class Context:
    def __init__(self, tasks: list[Any]) -> None:
        self.pipe = "demo"
        self.source = Source()
        self.limits: list[int] = []
        self.tasks = tasks
        self.feedback: list[list[dict[str, Any]]] = []
        self.progress: dict[str, Any] = {}

    def ready(self) -> None:
        pass

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        self.limits.append(limit)
        task = self.tasks.pop(0) if self.tasks else []
        if isinstance(task, Exception):
            raise task
        return list(task)

    async def sentinel_feedback(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        self.feedback.append(updates)
        return {"accepted": 1}

    async def run_blocking(self, func: Any, *args: Any) -> Any:
        return await asyncio.to_thread(func, *args)

    async def wait_for_trigger(self, timeout: float | None) -> bool:
        await asyncio.sleep(timeout or 0)
        return False

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)


def test_suspects_are_rechecked_and_the_answers_sent_back() -> None:
    async def scenario() -> None:
        ctx = Context([["/hot", "/gone", "/eio"]])
        await SentinelMode().sweep_once(ctx)  # type: ignore[arg-type]
        assert ctx.source.rechecked == [["/hot", "/gone", "/eio"]]
        assert [(u["path"], u["exists"]) for u in ctx.feedback[0]] == [("/hot", True), ("/gone", False)]
        assert ctx.progress["last_checked"] == 3 and ctx.progress["last_changed"] == 1
        assert ctx.progress["last_unresolved"] == 1

    asyncio.run(scenario())


def test_nothing_to_check_means_no_stat_and_no_feedback() -> None:
    async def scenario() -> None:
        ctx = Context([[]])
        await SentinelMode().sweep_once(ctx)  # type: ignore[arg-type]
        assert ctx.source.rechecked == [] and ctx.feedback == [] and ctx.progress["runs"] == 1

    asyncio.run(scenario())


def test_a_failing_fusion_call_is_reported_and_the_next_sweep_still_runs() -> None:
    async def scenario() -> None:
        ctx = Context([FustorError("Fusion unreachable"), ["/later"]])
        task = asyncio.create_task(SentinelMode(FAST).run(ctx))  # type: ignore[arg-type]
        while not ctx.feedback:
            await asyncio.sleep(0.001)
        task.cancel()
        assert ctx.source.rechecked == [["/later"]]
        assert ctx.progress["last_error"] == "Fusion unreachable"

    asyncio.run(scenario())


def test_a_sweep_asks_for_at_most_max_paths_suspects() -> None:
    async def scenario() -> None:
        ctx = Context([["/a"]])
        await SentinelMode(SentinelOptions(max_paths=25)).sweep_once(ctx)  # type: ignore[arg-type]
        await SentinelMode().sweep_once(ctx)  # type: ignore[arg-type]
        assert ctx.limits == [25, 1000]

    asyncio.run(scenario())


def test_the_mode_registers_its_options_and_can_be_triggered() -> None:
    registration = collect_registrations(
        get_plugin_manager(only=["sync-sentinel"]), "fustor_sync_modes", "mode"
    )
    assert registration["sentinel"].options is SentinelOptions
    assert SentinelMode().options.interval_s == 120
    assert SentinelMode.triggerable

"""The audit mode: periodic, framed by start/end, never beside another scan."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

from fustor_core.agent_api import SNAPSHOT_START, OutgoingEvent, TenureStart
from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_sync_audit import AuditMode, AuditOptions
from fustor_sync_audit.deep import DeepPlan, DeepSchedule, slice_of

FAST = AuditOptions(interval_s=0.01, deep_period_s=0.0)


class Source:
    def __init__(self) -> None:
        self.audits = 0
        self.deep: list[Any] = []
        self.cache_seen: list[set[str]] = []

    def audit(
        self,
        stop: threading.Event,
        batch_size: int,
        dir_cache: dict[str, Any],
        deep: Callable[[str], bool] | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        self.audits += 1
        self.deep.append(deep)
        self.cache_seen.append(set(dir_cache))
        dir_cache["/"] = "seen"
        yield [
            {"path": "/", "is_dir": True, "audit_skipped": True},
            {"path": "/changed", "is_dir": True},
            {"path": "/changed/f", "parent_path": "/changed", "parent_mtime": 1.0},
        ]


class Context:
    def __init__(self, tenure_start: TenureStart = SNAPSHOT_START) -> None:
        self.pipe = "demo"
        self.tenure_start = tenure_start
        self.mode_state: dict[str, Any] = {}
        self.saved: list[tuple[dict[str, Any], dict[str, Any]]] = []
        """(dir_cache, mode_state) at each scan_completed."""
        self.source = Source()
        self.settings = SimpleNamespace(batch_size=100)
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

    async def scan_completed(self) -> None:
        self.log.append("scan_completed")
        self.saved.append((dict(self.dir_cache), copy.deepcopy(self.mode_state)))


def test_an_audit_is_framed_and_reports_what_it_saw() -> None:
    async def scenario() -> None:
        ctx = Context()
        await AuditMode(FAST).audit_once(ctx)  # type: ignore[arg-type]
        assert ctx.log == ["audit/start", ("audit", 3), "audit/end", "scan_completed"]
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
        task = asyncio.create_task(AuditMode(FAST).run(ctx))  # type: ignore[arg-type]
        await asyncio.sleep(0.05)
        assert ctx.source.audits == 0 and ctx.log == ["ready"]
        ctx.scan_lock.release()
        while ctx.source.audits < 3:
            await asyncio.sleep(0.005)
        task.cancel()
        assert set(ctx.waits) == {0.01}
        assert AuditMode.leader_only

    asyncio.run(scenario())


def test_a_relisting_request_forgets_those_subtrees_before_the_walk() -> None:
    async def scenario() -> None:
        ctx = Context()
        ctx.dir_cache.update({"/": 1, "/a": 1, "/a/b": 1, "/ab": 1, "/c": 1})
        await AuditMode(FAST).audit_once(ctx, relist=["/a"])  # type: ignore[arg-type]
        assert ctx.source.cache_seen == [{"/", "/ab", "/c"}]
        await AuditMode(FAST).audit_once(ctx, relist=["/"])  # type: ignore[arg-type]
        assert ctx.source.cache_seen[1] == set()

    asyncio.run(scenario())


def test_each_audit_hands_the_source_its_deep_slice_and_reports_the_cycle() -> None:
    async def scenario() -> None:
        ctx = Context()
        mode = AuditMode(AuditOptions(interval_s=3600.0, deep_period_s=4 * 3600.0))
        await mode.audit_once(ctx)  # type: ignore[arg-type]
        plan = ctx.source.deep[0]
        assert isinstance(plan, DeepPlan) and (plan.first, plan.end, plan.slices) == (0, 1, 4)
        deep = ctx.progress["deep"]
        assert deep["slices_per_cycle"] == 4 and deep["slice"] == 1 and deep["cycles_completed"] == 0
        assert deep["dirs_checked_this_cycle"] == (1 if plan("/changed") else 0)
        await mode.audit_once(ctx, deep=True)  # type: ignore[arg-type]
        assert ctx.source.deep[1].full and ctx.progress["deep"]["cycles_completed"] == 1
        assert ctx.progress["deep"]["last_cycle_completed_at"] is not None

    asyncio.run(scenario())


def test_with_the_deep_audit_off_the_source_gets_no_slice_but_a_requested_deep_audit_runs() -> None:
    async def scenario() -> None:
        ctx = Context()
        mode = AuditMode(FAST)
        await mode.audit_once(ctx)  # type: ignore[arg-type]
        assert ctx.source.deep == [None]
        await mode.audit_once(ctx, deep=True)  # type: ignore[arg-type]
        assert ctx.source.deep[1]("/anything") and ctx.progress["dirs_deep_checked"] == 1

    asyncio.run(scenario())


# -- the rolling budget ---------------------------------------------------------------------------

DIRS = [f"/upload/{i:04d}/sub_{k}" for i in range(300) for k in range(4)]


def test_one_cycle_of_regular_audits_deep_checks_every_directory_exactly_once() -> None:
    schedule = DeepSchedule(period_s=86400, interval_s=600)
    assert schedule.slices == 144
    checked: list[str] = []
    sizes = []
    for n in range(144):
        plan = schedule.plan(1000.0 + n * 600)
        assert plan is not None and plan.end - plan.first == 1  # on schedule: one slice, no burst
        chosen = [path for path in DIRS if plan(path)]
        checked += chosen
        sizes.append(len(chosen))
        schedule.done(plan, len(chosen), 1000.0 + n * 600 + 5)
    assert sorted(checked) == sorted(DIRS)
    assert max(sizes) < 4 * len(DIRS) / 144  # spread by the hash, not lumped
    assert schedule.cycles == 1 and schedule.next_slice == 0
    assert schedule.cycle_started_at == 1000.0 + 86400  # the next cycle keeps the cadence
    again = schedule.plan(1000.0 + 144 * 600)
    assert again is not None and (again.first, again.end) == (0, 1)


def test_audits_that_fall_behind_catch_up_without_skipping_a_slice() -> None:
    schedule = DeepSchedule(period_s=100, interval_s=10)
    first = schedule.plan(0.0)
    assert first is not None and (first.first, first.end) == (0, 1)
    schedule.done(first, 0, 1.0)
    late = schedule.plan(35.0)  # slices 1..3 are due by now
    assert late is not None and (late.first, late.end) == (1, 4)
    schedule.done(late, 0, 36.0)
    early = schedule.plan(36.5)  # an audit on demand right after: still one slice, never none
    assert early is not None and (early.first, early.end) == (4, 5)


def test_slices_are_stable_and_a_full_plan_covers_everything() -> None:
    assert slice_of("/upload/0001", 144) == slice_of("/upload/0001", 144)
    full = DeepSchedule(period_s=0, interval_s=600).plan(0.0, full=True)
    assert full is not None and full.full and all(full(path) for path in DIRS)
    assert DeepSchedule(period_s=0, interval_s=600).plan(0.0) is None


def test_the_mode_registers_its_options_and_defaults_to_ten_minutes_and_a_day() -> None:
    registration = collect_registrations(get_plugin_manager(only=["sync-audit"]), "fustor_sync_modes", "mode")
    assert registration["audit"].options is AuditOptions
    assert AuditMode().options == AuditOptions(interval_s=600, deep_period_s=86_400)
    assert AuditMode.triggerable


def test_a_resumed_tenure_audits_at_once_from_the_saved_cache_and_deep_progress() -> None:
    async def scenario() -> None:
        saved = DeepSchedule(period_s=4 * 3600.0, interval_s=3600.0)
        began = time.time() - 1.5 * 3600  # two slices of the cycle were done before the restart
        for at in (began, began + 3600):
            plan = saved.plan(at)
            assert plan is not None
            saved.done(plan, 5, at)
        ctx = Context(TenureStart("audit", "view_restored", "restored"))
        ctx.dir_cache.update({"/": 1.0, "/a": 2.0})  # the saved cache the agent loaded
        ctx.mode_state["deep"] = saved.state()
        mode = AuditMode(AuditOptions(interval_s=3600.0, deep_period_s=4 * 3600.0))
        task = asyncio.create_task(mode.run(ctx))  # type: ignore[arg-type]
        while not ctx.saved:
            await asyncio.sleep(0.001)
        task.cancel()
        assert ctx.log[:2] == ["ready", "audit/start"]  # no interval waited: it ran at once
        assert ctx.source.cache_seen[0] == {"/", "/a"}  # from the saved cache, not an empty one
        plan = ctx.source.deep[0]
        assert isinstance(plan, DeepPlan) and plan.first == 2  # the deep cycle goes on where it was
        assert ctx.saved[0][1]["deep"]["next_slice"] == 3  # and its progress is saved with the cache

    asyncio.run(scenario())


def test_a_new_tenure_waits_its_interval_and_starts_a_new_deep_cycle() -> None:
    async def scenario() -> None:
        ctx = Context()  # starts with a snapshot
        ctx.mode_state["deep"] = {"period_s": 0.0, "slices": 0, "next_slice": 7}  # ignored
        task = asyncio.create_task(AuditMode(AuditOptions(interval_s=0.05, deep_period_s=0.0)).run(ctx))  # type: ignore[arg-type]
        while ctx.source.audits < 1:
            await asyncio.sleep(0.001)
        task.cancel()
        assert ctx.waits[0] == 0.05

    asyncio.run(scenario())


def test_a_saved_deep_state_for_other_settings_starts_a_new_cycle() -> None:
    schedule = DeepSchedule(period_s=100, interval_s=10)
    other = DeepSchedule(period_s=200, interval_s=10)
    other.next_slice = 5
    assert not schedule.restore(other.state()) and schedule.next_slice == 0
    assert not schedule.restore({"period_s": "x"}) and schedule.next_slice == 0
    same = DeepSchedule(period_s=100, interval_s=10)
    same.next_slice, same.cycles, same.cycle_started_at = 4, 2, 50.0
    assert schedule.restore(same.state()) and schedule.state() == same.state()

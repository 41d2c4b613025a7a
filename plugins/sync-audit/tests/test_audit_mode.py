"""The audit mode: periodic, framed by start/end, never beside another scan.

Driven on core's fake sync context and fake source (fustor_core.testing): no agent involved.
"""

from __future__ import annotations

import asyncio
import time

from fustor_core.agent_api import SNAPSHOT_START, TenureStart
from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_core.testing import FakeSource, FakeSyncContext, async_wait_for
from fustor_sync_audit import AuditMode, AuditOptions
from fustor_sync_audit.deep import DeepPlan, DeepSchedule, slice_of

AUDIT_ROWS = [
    {"path": "/", "is_dir": True, "audit_skipped": True},
    {"path": "/changed", "is_dir": True, "mtime": 5.0},
    {"path": "/changed/f", "parent_path": "/changed", "parent_mtime": 5.0},
]


FAST = AuditOptions(interval_s=0.01, deep_period_s=0.0)


def context(tenure_start: TenureStart = SNAPSHOT_START) -> FakeSyncContext:
    """A leader's context whose audit walk yields AUDIT_ROWS and whose Fusion deleted 3 nodes."""
    return FakeSyncContext(
        FakeSource(audit=[AUDIT_ROWS]),
        signal_answers={"audit/end": {"deleted": 3}},
        batch_size=100,
        tenure_start=tenure_start,
    )


def audits(ctx: FakeSyncContext) -> list:
    assert isinstance(ctx.source, FakeSource)
    return ctx.source.called("audit")


def test_an_audit_is_framed_and_reports_what_it_saw() -> None:
    ctx = context()
    asyncio.run(AuditMode(FAST).audit_once(ctx))
    assert ctx.log == [
        ("signal", "audit/start", False),
        ("publish", "audit", "insert", ["/", "/changed", "/changed/f"]),
        ("signal", "audit/end", True),
        ("scan_completed",),  # after the end was acknowledged: the agent saves the cache
    ]
    assert ctx.scans_completed[0].scan_lock_held is False, "audit_once alone: run() holds the lock"
    assert (
        ctx.progress["files"] == 1 and ctx.progress["dirs_skipped"] == 1 and ctx.progress["dirs_listed"] == 1
    )
    assert ctx.progress["last_deleted"] == 3 and ctx.progress["runs"] == 1
    assert audits(ctx)[0].dir_cache is ctx.dir_cache, "the tenure's cache is the one handed to the source"
    assert ctx.dir_cache == {"/changed": 5.0}


def test_audits_repeat_every_interval_and_wait_for_a_running_scan() -> None:
    async def scenario() -> None:
        ctx = context()
        await ctx.scan_lock.acquire()  # a snapshot is running
        task = asyncio.create_task(AuditMode(FAST).run(ctx))
        await async_wait_for(lambda: ctx.waits, what="the first interval")
        await asyncio.sleep(0.05)  # the interval passed five times over: still no audit
        assert audits(ctx) == [] and ctx.log == [("ready",)]
        ctx.scan_lock.release()
        await async_wait_for(lambda: len(audits(ctx)) >= 3, what="three audits")
        task.cancel()
        assert set(ctx.waits) == {0.01}
        assert AuditMode.leader_only

    asyncio.run(scenario())


def test_a_relisting_request_forgets_those_subtrees_before_the_walk() -> None:
    async def scenario() -> None:
        ctx = context()
        ctx.dir_cache.update({"/": 1, "/a": 1, "/a/b": 1, "/ab": 1, "/c": 1})
        await AuditMode(FAST).audit_once(ctx, relist=["/a"])
        assert audits(ctx)[0].cached == {"/", "/ab", "/c"}
        await AuditMode(FAST).audit_once(ctx, relist=["/"])
        assert audits(ctx)[1].cached == set()

    asyncio.run(scenario())


def test_a_requested_audit_runs_at_once_with_what_the_request_asked() -> None:
    async def scenario() -> None:
        ctx = context()
        ctx.dir_cache.update({"/a": 1, "/b": 1})
        task = asyncio.create_task(AuditMode(AuditOptions(interval_s=3600.0, deep_period_s=0.0)).run(ctx))
        await async_wait_for(lambda: ctx.waits, what="the mode waiting")
        ctx.trigger(relist=["/a"], deep=True)
        await async_wait_for(lambda: ctx.progress.get("runs") == 1, what="the requested audit")
        task.cancel()
        (call,) = audits(ctx)
        assert call.cached == {"/b"} and call.deep is not None and call.deep("/anything")

    asyncio.run(scenario())


def test_each_audit_hands_the_source_its_deep_slice_and_reports_the_cycle() -> None:
    async def scenario() -> None:
        ctx = context()
        mode = AuditMode(AuditOptions(interval_s=3600.0, deep_period_s=4 * 3600.0))
        await mode.audit_once(ctx)
        plan = audits(ctx)[0].deep
        assert isinstance(plan, DeepPlan) and (plan.first, plan.end, plan.slices) == (0, 1, 4)
        deep = ctx.progress["deep"]
        assert deep["slices_per_cycle"] == 4 and deep["slice"] == 1 and deep["cycles_completed"] == 0
        assert deep["dirs_checked_this_cycle"] == (1 if plan("/changed") else 0)
        await mode.audit_once(ctx, deep=True)
        full = audits(ctx)[1].deep
        assert isinstance(full, DeepPlan) and full.full and ctx.progress["deep"]["cycles_completed"] == 1
        assert ctx.progress["deep"]["last_cycle_completed_at"] is not None

    asyncio.run(scenario())


def test_with_the_deep_audit_off_the_source_gets_no_slice_but_a_requested_deep_audit_runs() -> None:
    async def scenario() -> None:
        ctx = context()
        mode = AuditMode(FAST)
        await mode.audit_once(ctx)
        assert audits(ctx)[0].deep is None
        await mode.audit_once(ctx, deep=True)
        deep = audits(ctx)[1].deep
        assert deep is not None and deep("/anything") and ctx.progress["dirs_deep_checked"] == 1

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
        ctx = context(TenureStart("audit", "view_restored", "restored"))
        ctx.dir_cache.update({"/": 1.0, "/a": 2.0})  # the saved cache the agent loaded
        ctx.mode_state["deep"] = saved.state()
        mode = AuditMode(AuditOptions(interval_s=3600.0, deep_period_s=4 * 3600.0))
        task = asyncio.create_task(mode.run(ctx))
        await async_wait_for(lambda: ctx.scans_completed, what="the resumed audit")
        task.cancel()
        assert ctx.log[:2] == [("ready",), ("signal", "audit/start", False)]  # no interval waited
        assert audits(ctx)[0].cached == {"/", "/a"}  # from the saved cache, not an empty one
        plan = audits(ctx)[0].deep
        assert isinstance(plan, DeepPlan) and plan.first == 2  # the deep cycle goes on where it was
        saved = ctx.scans_completed[0]
        assert saved.mode_state["deep"]["next_slice"] == 3  # its progress is saved with the cache
        assert saved.scan_lock_held

    asyncio.run(scenario())


def test_a_new_tenure_waits_its_interval_and_starts_a_new_deep_cycle() -> None:
    async def scenario() -> None:
        ctx = context()  # starts with a snapshot
        ctx.mode_state["deep"] = {"period_s": 0.0, "slices": 0, "next_slice": 7}  # ignored
        task = asyncio.create_task(AuditMode(AuditOptions(interval_s=0.05, deep_period_s=0.0)).run(ctx))
        await async_wait_for(lambda: audits(ctx), what="the first audit")
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

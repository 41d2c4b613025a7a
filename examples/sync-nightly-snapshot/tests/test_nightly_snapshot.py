"""The mode on core's fake sync context and fake source (the fixtures of core's pytest plugin)."""

from __future__ import annotations

import asyncio

from sync_nightly_snapshot import NightlyOptions, NightlySnapshot

from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_core.testing import MakeFakeSource, MakeSyncContext, async_wait_for


def test_a_requested_run_is_one_framed_snapshot(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    source = fake_source(snapshot=[[{"path": "/a", "is_dir": True}, {"path": "/a/f"}], [{"path": "/b"}]])
    ctx = sync_context(source, batch_size=2)

    async def scenario() -> None:
        task = asyncio.create_task(NightlySnapshot(NightlyOptions(interval_s=3600)).run(ctx))
        await async_wait_for(lambda: ctx.waits, what="the mode waiting for its hour")
        ctx.trigger()  # as the agent API's trigger would
        await async_wait_for(lambda: ctx.progress.get("runs") == 1, what="the snapshot")
        task.cancel()

    asyncio.run(scenario())
    assert ctx.waits[0] == 3600, "the configured interval"
    assert ctx.log == [
        ("ready",),
        ("signal", "snapshot/start", False),
        ("publish", "snapshot", "insert", ["/a", "/a/f"]),
        ("publish", "snapshot", "insert", ["/b"]),
        ("signal", "snapshot/end", True),
    ]
    assert source.called("snapshot")[0].dir_cache is ctx.dir_cache
    assert ctx.ready_calls[0].scan_lock_held is False


def test_the_interval_passing_runs_it_too(sync_context: MakeSyncContext, fake_source: MakeFakeSource) -> None:
    ctx = sync_context(fake_source(snapshot=[[{"path": "/x"}]]))

    async def scenario() -> None:
        task = asyncio.create_task(NightlySnapshot(NightlyOptions(interval_s=0.01)).run(ctx))
        await async_wait_for(lambda: (ctx.progress.get("runs") or 0) >= 2, what="two timed snapshots")
        task.cancel()

    asyncio.run(scenario())
    assert ctx.signals()[:4] == ["snapshot/start", "snapshot/end", "snapshot/start", "snapshot/end"]


def test_the_mode_registers_its_options_and_is_triggerable() -> None:
    registration = collect_registrations(
        get_plugin_manager(only=["sync-nightly-snapshot"]), "fustor_sync_modes", "mode"
    )
    assert registration["nightly-snapshot"].options is NightlyOptions
    assert NightlyOptions().interval_s == 24 * 3600 and NightlySnapshot.triggerable

"""The sentinel mode: Fusion's suspects are re-checked and the results sent back.

Driven with the ``sync_context`` and ``fake_source`` fixtures of core's pytest plugin.
"""

from __future__ import annotations

import asyncio

from fustor_core.errors import FustorError
from fustor_core.plugins import collect_registrations, get_plugin_manager
from fustor_core.testing import MakeFakeSource, MakeSyncContext, async_wait_for
from fustor_sync_sentinel import SentinelMode, SentinelOptions

FAST = SentinelOptions(interval_s=0.001)


def test_suspects_are_rechecked_and_the_answers_sent_back(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    # /hot still exists, /gone does not, and re-checking /eio fails: it is left out (not known gone)
    source = fake_source(files={"/hot": (1.0, 2)}, unreadable={"/eio"})
    ctx = sync_context(source, sentinel_tasks=[["/hot", "/gone", "/eio"]])
    asyncio.run(SentinelMode().sweep_once(ctx))
    assert source.called("recheck")[0].paths == ["/hot", "/gone", "/eio"]
    assert [(u["path"], u["exists"]) for u in ctx.feedback[0]] == [("/hot", True), ("/gone", False)]
    assert ctx.progress["last_checked"] == 3 and ctx.progress["last_changed"] == 2
    assert ctx.progress["last_unresolved"] == 1


def test_nothing_to_check_means_no_stat_and_no_feedback(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    source = fake_source()
    ctx = sync_context(source, sentinel_tasks=[[]])
    asyncio.run(SentinelMode().sweep_once(ctx))
    assert source.calls == [] and ctx.feedback == [] and ctx.progress["runs"] == 1


def test_a_failing_fusion_call_is_reported_and_the_next_sweep_still_runs(
    sync_context: MakeSyncContext, fake_source: MakeFakeSource
) -> None:
    async def scenario() -> None:
        source = fake_source(files={"/later": (1.0, 1)})
        ctx = sync_context(source, sentinel_tasks=[FustorError("Fusion unreachable"), ["/later"]])
        task = asyncio.create_task(SentinelMode(FAST).run(ctx))
        await async_wait_for(lambda: ctx.feedback, what="the second sweep's feedback")
        task.cancel()
        assert [call.paths for call in source.called("recheck")] == [["/later"]]
        assert ctx.progress["last_error"] == "Fusion unreachable"

    asyncio.run(scenario())


def test_a_sweep_asks_for_at_most_max_paths_suspects(sync_context: MakeSyncContext) -> None:
    async def scenario() -> None:
        ctx = sync_context(sentinel_tasks=[["/a"]])
        await SentinelMode(SentinelOptions(max_paths=25)).sweep_once(ctx)
        await SentinelMode().sweep_once(ctx)
        assert ctx.sentinel_limits == [25, 1000]

    asyncio.run(scenario())


def test_the_mode_registers_its_options_and_can_be_triggered() -> None:
    registration = collect_registrations(
        get_plugin_manager(only=["sync-sentinel"]), "fustor_sync_modes", "mode"
    )
    assert registration["sentinel"].options is SentinelOptions
    assert SentinelMode().options.interval_s == 120
    assert SentinelMode.triggerable

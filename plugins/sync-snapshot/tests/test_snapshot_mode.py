"""The snapshot mode: one walk framed by start/end, at tenure start and then on request.

Driven on core's fake sync context and fake source (fustor_core.testing): no agent involved.
"""

from __future__ import annotations

import asyncio

from fustor_core.agent_api import TenureStart
from fustor_core.testing import FakeSource, FakeSyncContext, async_wait_for
from fustor_sync_snapshot import SnapshotMode

RESUMED = TenureStart("audit", "view_restored", "Fusion restored the view")


def test_a_snapshot_is_framed_by_start_and_end_around_its_rows() -> None:
    source = FakeSource(snapshot=[[{"path": "/a", "is_dir": True}, {"path": "/a/f"}], [{"path": "/g"}]])
    ctx = FakeSyncContext(source, batch_size=2)
    asyncio.run(SnapshotMode().snapshot_once(ctx))
    assert ctx.log == [
        ("signal", "snapshot/start", False),
        ("publish", "snapshot", "insert", ["/a", "/a/f"]),
        ("publish", "snapshot", "insert", ["/g"]),
        ("signal", "snapshot/end", True),
        ("scan_completed",),  # after the end was acknowledged: the agent saves the cache
    ]
    (call,) = source.called("snapshot")
    assert call.batch_size == 2 and call.dir_cache is ctx.dir_cache  # seeds the tenure's audit cache
    assert ctx.dir_cache == {"/a": 0.0}
    assert ctx.progress["files"] == 2 and ctx.progress["dirs"] == 1 and ctx.progress["runs"] == 1


def test_the_mode_scans_at_once_under_the_scan_lock_then_again_only_on_request() -> None:
    async def scenario() -> None:
        ctx = FakeSyncContext(FakeSource(snapshot=[[{"path": "/x"}]]))
        task = asyncio.create_task(SnapshotMode().run(ctx))
        await async_wait_for(lambda: ctx.progress.get("runs") == 1, what="the first snapshot")
        assert ctx.ready_calls[0].scan_lock_held
        await async_wait_for(lambda: ctx.waits == [None], what="the mode waiting for a request")
        ctx.trigger()
        await async_wait_for(lambda: ctx.progress.get("runs") == 2, what="the requested snapshot")
        task.cancel()
        assert ctx.signals() == ["snapshot/start", "snapshot/end"] * 2
        assert SnapshotMode.leader_only and SnapshotMode.order > 0

    asyncio.run(scenario())


def test_a_resumed_tenure_has_no_snapshot_until_one_is_requested() -> None:
    async def scenario() -> None:
        source = FakeSource(snapshot=[[{"path": "/x"}]])
        ctx = FakeSyncContext(source, tenure_start=RESUMED)
        task = asyncio.create_task(SnapshotMode().run(ctx))
        await async_wait_for(lambda: ctx.waits, what="the mode waiting for a request")
        assert ctx.log == [("ready",)] and source.calls == []  # ready at once, no walk
        assert ctx.ready_calls[0].scan_lock_held is False
        assert ctx.progress["state"] == "standing aside"
        assert ctx.progress["standing_aside_because"] == "Fusion restored the view"
        ctx.trigger()  # the API's POST .../snapshot
        await async_wait_for(lambda: ctx.progress.get("runs") == 1, what="the requested snapshot")
        task.cancel()
        assert len(source.called("snapshot")) == 1
        assert [scan.scan_lock_held for scan in ctx.scans_completed] == [True]

    asyncio.run(scenario())

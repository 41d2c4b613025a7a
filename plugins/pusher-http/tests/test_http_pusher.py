"""The HTTP pusher's delivery contract: ordered, numbered, retried, never silently lost."""

from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
import pytest
from pusher_testkit import ListLink, ScriptedFusion, deliver, error, event, pusher, signal

from fustor_core.agent_api import OutgoingEvent, SessionInfo
from fustor_pusher_http.backoff import Backoff
from fustor_pusher_http.encoding import EncodedEvent, batch_body


def test_batches_are_numbered_from_one_and_the_session_is_closed_at_the_end() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink(batch_size=2)
        link.put(event("/a"), event("/b"), event("/c"))
        await deliver(fusion, link)
        assert [
            (seq, [r["path"] for e in events for r in e["rows"]]) for _, seq, events in fusion.applied
        ] == [
            (1, ["/a", "/b"]),
            (2, ["/c"]),
        ]
        assert fusion.requests[-1][0] == "DELETE" and fusion.sessions == {}
        assert (
            link.sessions[0] is not None and link.sessions[0].role == "leader" and link.sessions[-1] is None
        )
        assert link.counters["rows_sent"] == 3 and link.counters["batches_sent"] == 2

    asyncio.run(scenario())


def test_a_lost_response_is_retried_with_the_same_seq_and_applied_once() -> None:
    def apply_then_lose(request: httpx.Request, fusion: ScriptedFusion) -> httpx.Response | None:
        if request.url.path.endswith("/events"):
            fusion.route(request, json.loads(request.content))
            raise httpx.ReadTimeout("response lost", request=request)
        return None

    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        fusion.faults = [lambda r, f: None, apply_then_lose]  # session opens; first batch loses its answer
        link.put(event("/only-once"))
        await deliver(fusion, link)
        sent = [body["seq"] for method, path, body in fusion.requests if path.endswith("/events")]
        assert sent == [1, 1]
        assert fusion.rows() == ["/only-once"]
        assert link.counters["retries"] == 1 and link.counters["duplicate_batches"] == 1

    asyncio.run(scenario())


def test_an_unreachable_fusion_is_retried_until_it_answers_and_nothing_is_dropped() -> None:
    def refuse(request: httpx.Request, fusion: ScriptedFusion) -> httpx.Response | None:
        raise httpx.ConnectError("connection refused", request=request)

    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        fusion.faults = [refuse, refuse, lambda r, f: None, refuse, refuse, refuse]
        link.put(event("/x"), event("/y"))
        await deliver(fusion, link)
        assert fusion.rows() == ["/x", "/y"]
        assert link.counters["retries"] == 3
        assert any("unreachable" in message for message in link.errors)

    asyncio.run(scenario())


def test_a_forgotten_session_is_replaced_and_unacknowledged_rows_are_resent_from_seq_one() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink(batch_size=1)
        link.put(event("/before"))
        instance = pusher(fusion)
        task = asyncio.create_task(instance.run(link))
        while not fusion.applied:
            await asyncio.sleep(0.001)
        fusion.sessions.clear()  # Fusion restarted
        link.put(event("/after"))
        link.close()
        await asyncio.wait_for(task, 5)
        assert [(sid, seq) for sid, seq, _ in fusion.applied] == [("s-1", 1), ("s-2", 1)]
        assert fusion.rows() == ["/before", "/after"]
        opened = [s.session_id if s else None for s in link.sessions]
        assert opened[:3] == ["s-1", None, "s-2"]  # the pipe learns the old session is gone
        assert link.counters["sessions_opened"] == 2

    asyncio.run(scenario())


def test_a_batch_too_large_is_split_until_it_fits() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        fusion.max_batch_rows = 2
        link.put(event("/1", "/2", "/3", "/4", "/5"))
        await deliver(fusion, link)
        assert fusion.rows() == ["/1", "/2", "/3", "/4", "/5"]
        assert all(sum(len(e["rows"]) for e in events) <= 2 for _, _, events in fusion.applied)
        assert [seq for _, seq, _ in fusion.applied] == [1, 2, 3]
        assert link.counters["batches_split"] >= 2

    asyncio.run(scenario())


def test_signals_follow_the_batches_before_them_and_resolve_their_future() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        end = signal("audit/end")
        link.put(signal("audit/start"), event("/a", source="audit", tenure=1), end)
        await deliver(fusion, link)
        assert [name for _, name, _ in fusion.signals] == ["audit/start", "audit/end"]
        assert fusion.signals[1][2] == {"after_seq": 1}
        assert (await end.done)["signal"] == "audit/end"
        order = [path.rsplit("/", 2)[-2:] for _, path, _ in fusion.requests if "/sessions/" in path]
        assert order[:3] == [["audit", "start"], ["s-1", "events"], ["audit", "end"]]

    asyncio.run(scenario())


def test_a_follower_signal_fails_its_future_instead_of_blocking_the_stream() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        fusion.next_role = "follower"
        start = signal("snapshot/start")
        link.put(start, event("/realtime-still-flows"))
        await deliver(fusion, link)
        with pytest.raises(Exception, match="not_leader"):
            await start.done
        assert fusion.rows() == ["/realtime-still-flows"]

    asyncio.run(scenario())


def test_scan_items_of_an_ended_tenure_are_not_sent() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        link.tenure = 2
        old = signal("snapshot/end", tenure=1)
        link.put(event("/stale", source="snapshot", tenure=1), event("/live"), old)
        await deliver(fusion, link)
        assert fusion.rows() == ["/live"]
        assert link.counters["stale_scan_rows_skipped"] == 1
        with pytest.raises(Exception, match="tenure"):
            await old.done
        assert fusion.signals == []

    asyncio.run(scenario())


def test_heartbeats_report_a_role_change() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink(heartbeat_interval_s=0.01)
        fusion.next_role = "follower"
        instance = pusher(fusion)
        task = asyncio.create_task(instance.run(link))
        while not fusion.sessions:
            await asyncio.sleep(0.001)
        next(iter(fusion.sessions.values())).role = "leader"  # the old leader timed out
        for _ in range(500):
            if link.sessions and link.sessions[-1] and link.sessions[-1].role == "leader":
                break
            await asyncio.sleep(0.005)
        link.close()
        await asyncio.wait_for(task, 5)
        roles = [s.role for s in link.sessions if s is not None]
        assert roles[:2] == ["follower", "leader"]

    asyncio.run(scenario())


def test_a_revoked_key_holds_the_rows_instead_of_dropping_them() -> None:
    def unauthorized(request: httpx.Request, fusion: ScriptedFusion) -> httpx.Response | None:
        return error(401, "unauthorized") if request.url.path.endswith("/events") else None

    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        fusion.faults = [lambda r, f: None, unauthorized, unauthorized]
        link.put(event("/kept"))
        await deliver(fusion, link)
        assert fusion.rows() == ["/kept"]
        assert link.counters["retries"] == 2 and link.counters.get("rows_rejected", 0) == 0

    asyncio.run(scenario())


def test_sentinel_calls_use_the_current_session() -> None:
    async def scenario() -> None:
        fusion, link = ScriptedFusion(), ListLink()
        instance = pusher(fusion)
        task = asyncio.create_task(instance.run(link))
        while instance.session is None:
            await asyncio.sleep(0.001)
        assert await instance.sentinel_tasks() == ["/a", "/b"]
        answer = await instance.sentinel_feedback([{"path": "/a", "exists": False}])
        assert answer["accepted"] == 1
        link.close()
        await asyncio.wait_for(task, 5)

    asyncio.run(scenario())


def test_bodies_are_built_from_encoded_events_and_unencodable_rows_cost_only_themselves() -> None:
    good = OutgoingEvent("snapshot", "insert", [{"path": "/ok", "size": 1, "mtime": 2.5}], index=7)
    bad = OutgoingEvent("snapshot", "insert", [{"path": "/bad-\udcff"}, {"path": "/fine"}], index=8)
    body = json.loads(batch_body([EncodedEvent(good), EncodedEvent(bad)], 3))
    assert body["seq"] == 3
    assert body["events"][0] == {
        "message_source": "snapshot",
        "event_type": "insert",
        "index": 7,
        "rows": [{"path": "/ok", "size": 1, "mtime": 2.5}],
    }
    assert body["events"][1]["rows"] == [{"path": "/fine"}]


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next_delay() for _ in range(8)]
    for attempt, delay in enumerate(delays):
        ceiling = min(1.0, 0.1 * 2**attempt)
        assert ceiling / 2 <= delay <= ceiling
    assert len(set(delays)) > 1


def test_a_session_forgotten_during_a_sentinel_call_is_renewed_even_when_the_call_is_cancelled() -> None:
    """The pipe ends the leader tenure as soon as the pusher reports "no session", which cancels
    the leader modes — including the sentinel whose call found the session gone. The renewal it
    started must still complete, or the agent would stay without a session for good."""

    class CancellingLink(ListLink):
        caller: asyncio.Task[object] | None = None

        def session_changed(self, session: SessionInfo | None) -> None:
            super().session_changed(session)
            if session is None and self.caller is not None:
                self.caller.cancel()  # what ending the tenure does to the sentinel mode

    async def scenario() -> None:
        fusion, link = ScriptedFusion(), CancellingLink()
        instance = pusher(fusion)
        task = asyncio.create_task(instance.run(link))
        while instance.session is None:
            await asyncio.sleep(0.001)
        first = instance.session.session_id
        fusion.sessions.clear()  # Fusion restarted: it knows no session any more
        link.caller = asyncio.create_task(instance.sentinel_tasks())
        with contextlib.suppress(asyncio.CancelledError):
            await link.caller
        deadline = asyncio.get_running_loop().time() + 5
        while instance.session is None or instance.session.session_id == first:
            assert asyncio.get_running_loop().time() < deadline, "no new session after the cancelled call"
            await asyncio.sleep(0.005)
        link.put(event("/after"))
        link.close()
        await asyncio.wait_for(task, 5)
        assert fusion.rows() == ["/after"]

    asyncio.run(scenario())

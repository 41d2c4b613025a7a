"""Sessions and the leader lock: first opened leads, silence or close releases, a heartbeat takes."""

from __future__ import annotations

import time

from fusion_testkit import Fusion, StartFusion, error_of, event, row, wait_until


def test_open_heartbeat_close(fusion: Fusion) -> None:
    agent = fusion.agent("host-a")
    opened = agent.http.post(
        "/api/v1/ingest/sessions", json={"agent_id": "host-a", "source_uri": "fs:///mnt"}
    )
    assert opened.status_code == 201
    body = opened.json()
    assert body["role"] == "leader"
    assert body["datastore"] == "demo"
    assert body["heartbeat_interval_s"] == 10
    assert body["session_timeout_s"] == 30
    sid = body["session_id"]
    assert body["view"]["restored"] is False  # no journal in these tests: never restored
    beat = agent.http.post(f"/api/v1/ingest/sessions/{sid}/heartbeat")
    assert beat.status_code == 200
    view = beat.json().pop("view")
    assert view["id"] == body["view"]["id"] and view["seq"] >= body["view"]["seq"]
    assert {k: v for k, v in beat.json().items() if k != "view"} == {
        "session_id": sid,
        "role": "leader",
        "leader_session_id": sid,
        "applied_seq": 0,
        "heartbeat_interval_s": 10,
        "session_timeout_s": 30,
    }
    sessions = fusion.query().ok("sessions")
    assert [(s["session_id"], s["agent_id"], s["role"], s["source_uri"]) for s in sessions] == [
        (sid, "host-a", "leader", "fs:///mnt")
    ]
    assert sessions[0]["last_heartbeat_age_s"] >= 0
    closed = agent.http.delete(f"/api/v1/ingest/sessions/{sid}")
    assert closed.json() == {"session_id": sid, "closed": True}
    assert fusion.query().ok("sessions") == []
    assert error_of(agent.http.post(f"/api/v1/ingest/sessions/{sid}/heartbeat"))[:2] == (
        409,
        "session_expired",
    )
    assert error_of(agent.http.delete(f"/api/v1/ingest/sessions/{sid}"))[:2] == (409, "session_expired")


def test_first_session_leads_and_close_hands_over_on_next_heartbeat(fusion: Fusion) -> None:
    a = fusion.agent("host-a").open()
    b = fusion.agent("host-b").open()
    assert (a.role, b.role) == ("leader", "follower")
    assert b.heartbeat().json()["role"] == "follower"
    assert fusion.query().ok("stats")["leader"] == a.sid
    assert a.http.delete(a.url("")).status_code == 200
    assert fusion.query().ok("stats")["leader"] is None  # released, not yet taken
    assert b.heartbeat().json()["role"] == "leader"
    stats = fusion.query().ok("stats")
    assert (stats["leader"], stats["leader_agent_id"], stats["sessions"]) == (b.sid, "host-b", 1)
    c = fusion.agent("host-c").open()
    assert c.role == "follower"


def test_silent_leader_is_replaced_after_the_timeout(start_fusion: StartFusion) -> None:
    fusion = start_fusion(clock=True, session_timeout_s=30)
    assert fusion.clock is not None
    a = fusion.agent("host-a").open()
    b = fusion.agent("host-b").open()
    fusion.clock.advance(20)
    assert b.heartbeat().json()["role"] == "follower"  # the leader is late but not gone
    fusion.clock.advance(10.5)  # a's last call is now 30.5 s old, b's 10.5 s
    beat = b.heartbeat().json()
    assert beat["role"] == "leader"
    assert beat["leader_session_id"] == b.sid
    assert error_of(a.heartbeat())[:2] == (409, "session_expired")


def test_any_call_is_a_sign_of_life(start_fusion: StartFusion) -> None:
    fusion = start_fusion(clock=True, session_timeout_s=30)
    assert fusion.clock is not None
    a = fusion.agent("host-a").open()
    b = fusion.agent("host-b").open()
    for _ in range(3):
        fusion.clock.advance(20)
        a.send_ok(event("realtime", "insert", row("/f")))
        b.heartbeat()
    assert b.role == "follower"
    assert a.heartbeat().json()["role"] == "leader"


def test_failover_with_real_time(start_fusion: StartFusion) -> None:
    """The leader stops heart-beating; within timeout + one heartbeat the follower leads."""
    fusion = start_fusion(session_timeout_s=0.6, heartbeat_interval_s=0.1)
    a = fusion.agent("host-a").open()
    a_silent_since = time.monotonic()
    b = fusion.agent("host-b").open()
    assert a.role == "leader"

    def b_leads() -> bool:
        return b.heartbeat().json()["role"] == "leader"

    wait_until(b_leads, timeout=5, interval=0.1)
    elapsed = time.monotonic() - a_silent_since
    assert elapsed >= 0.6  # never before the leader's timeout
    assert elapsed <= 0.6 + 0.1 + 1.0  # timeout + one heartbeat (+ slack for a loaded machine)
    assert error_of(a.heartbeat())[:2] == (409, "session_expired")


def test_background_tick_expires_silent_sessions(start_fusion: StartFusion) -> None:
    fusion = start_fusion(session_timeout_s=0.3, tick_interval_s=0.05)
    fusion.agent("host-a").open()
    query = fusion.query()
    assert len(query.ok("sessions")) == 1
    wait_until(lambda: query.ok("sessions") == [], timeout=5)
    assert query.ok("stats")["leader"] is None


def test_new_leader_starts_fresh_discovery(start_fusion: StartFusion) -> None:
    """A new leader session reaches the engine (blind-spot lists are cleared by the rule)."""
    calls: list[str] = []

    class Recorder:
        from fustor_core import hookimpl

        @hookimpl
        def fustor_leader_session(self, view: object, session_id: str) -> None:
            calls.append(session_id)

    fusion = start_fusion(extra_plugins=(Recorder(),))
    a = fusion.agent("host-a").open()
    b = fusion.agent("host-b").open()
    assert calls == [a.sid]
    a.http.delete(a.url(""))
    b.heartbeat()
    assert calls == [a.sid, b.sid]
    b.heartbeat()
    assert calls == [a.sid, b.sid]


def test_followers_are_refused_leader_only_calls(fusion: Fusion) -> None:
    fusion.agent("host-a").open()
    follower = fusion.agent("host-b").open()
    for name in ("snapshot/start", "snapshot/end", "audit/start", "audit/end"):
        status, code, message = error_of(follower.signal(name))
        assert (status, code) == (409, "not_leader")
        assert "follower" in message
    assert error_of(follower.http.get(follower.url("/sentinel/tasks")))[:2] == (409, "not_leader")
    feedback = {"updates": [{"path": "/x", "exists": False}]}
    assert error_of(follower.http.post(follower.url("/sentinel/feedback"), json=feedback))[:2] == (
        409,
        "not_leader",
    )
    # realtime is what followers do; their snapshot/audit rows are dropped, not applied
    answer = follower.send_ok(
        event("realtime", "insert", row("/rt")),
        event("snapshot", "insert", row("/snap"), row("/snap2")),
    )
    assert (answer["accepted"], answer["dropped"], answer["reasons"]) == (1, 2, {"not_leader": 2})
    names = [c["name"] for c in fusion.query().ok("tree", path="/")["children"]]
    assert names == ["rt"]


def test_open_session_body_is_validated(fusion: Fusion) -> None:
    http = fusion.agent().http
    for body, field in [
        ({}, "agent_id"),
        ({"agent_id": 5}, "agent_id"),
        ({"agent_id": ""}, "agent_id"),
        ({"agent_id": "a", "colour": 1}, "colour"),
        ({"agent_id": "a", "source_uri": []}, "source_uri"),
    ]:
        status, code, message = error_of(http.post("/api/v1/ingest/sessions", json=body))
        assert (status, code) == (422, "invalid")
        assert message.startswith(field), message
    assert error_of(http.post("/api/v1/ingest/sessions", content=b"[1,2]"))[0] == 422
    assert error_of(http.post("/api/v1/ingest/sessions", content=b"{nope"))[0] == 422
    assert error_of(http.post("/api/v1/ingest/sessions", content=b""))[0] == 422

"""Sessions are bounded: a limit per key, abandoned ones reclaimed, and a paged listing."""

from __future__ import annotations

from fusion_testkit import BOTH_KEY, StartFusion, error_of, wait_until

OPEN = "/api/v1/ingest/sessions"


def test_one_key_cannot_open_more_than_its_limit(start_fusion: StartFusion) -> None:
    fusion = start_fusion(max_sessions_per_key=3)
    agents = [fusion.agent(f"host-{i}").open() for i in range(3)]
    refused = fusion.agent("host-x").http.post(OPEN, json={"agent_id": "host-x"})
    status, code, message = error_of(refused)
    assert (status, code) == (429, "too_many_sessions")
    assert "limit" in message and "max_sessions_per_key" in message
    assert refused.headers["Retry-After"] == "30"  # the session timeout
    # another key of the same datastore is not affected
    assert (
        fusion.agent("host-y", key=BOTH_KEY).http.post(OPEN, json={"agent_id": "host-y"}).status_code == 201
    )
    # closing one makes room
    assert agents[0].http.delete(agents[0].url("")).status_code == 200
    assert fusion.agent("host-z").http.post(OPEN, json={"agent_id": "host-z"}).status_code == 201


def test_sessions_opened_and_never_used_are_reclaimed(start_fusion: StartFusion) -> None:
    fusion = start_fusion(max_sessions_per_key=3, clock=True)
    for i in range(3):
        fusion.agent(f"host-{i}").open()
    assert fusion.query().ok("stats")["sessions"] == 3
    assert fusion.clock is not None
    fusion.clock.advance(31)  # past session_timeout_s without a single call
    wait_until(lambda: fusion.query().ok("stats")["sessions"] == 0)  # the tick expired them
    assert fusion.query().ok("sessions") == []
    assert fusion.agent("host-new").open().role == "leader"


def test_the_session_listing_is_paged(start_fusion: StartFusion) -> None:
    fusion = start_fusion(max_sessions_per_key=100)
    opened = {fusion.agent(f"host-{i}").open().sid for i in range(25)}
    query = fusion.query()
    everything = query.get("sessions")
    assert "X-Next-Cursor" not in everything.headers  # small lists: one answer, as before
    assert {s["session_id"] for s in everything.json()} == opened
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 10} if cursor is None else {"limit": 10, "cursor": cursor}
        answer = query.get("sessions", **params)
        assert answer.status_code == 200
        assert len(answer.json()) <= 10
        seen += [s["session_id"] for s in answer.json()]
        pages += 1
        cursor = answer.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert pages == 3 and seen == sorted(opened)

"""Event batches through HTTP: per-row validation, whole-batch refusals, ordering, idempotency."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
from fusion_testkit import Agent, Fusion, StartFusion, error_of, event, row, wait_until

from fustor_fusion.sessions import Session


def tree_names(fusion: Fusion, path: str = "/") -> list[str]:
    return [child["name"] for child in fusion.query().ok("tree", path=path).get("children", [])]


def session_of(fusion: Fusion, agent: Agent) -> Session:
    return fusion.service.datastores["demo"].sessions.get(agent.sid)


def test_events_happy_path(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    answer = agent.send_ok(
        event("snapshot", "insert", row("/d", is_dir=True), row("/d/a.dat", size=5), row("/d/b.dat", size=7))
    )
    assert answer == {
        "accepted": 3,
        "dropped": 0,
        "unchanged": 0,
        "reasons": {},
        "seq": 1,
        "duplicate": False,
    }
    answer = agent.send_ok(
        event("realtime", "delete", row("/d/a.dat")), event("realtime", "insert", row("/e"))
    )
    assert (answer["accepted"], answer["seq"]) == (2, 2)
    assert tree_names(fusion, "/d") == ["b.dat"]
    assert tree_names(fusion) == ["d", "e"]
    assert agent.heartbeat().json()["applied_seq"] == 2


def test_batches_without_seq_apply_in_arrival_order(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    for _ in range(2):
        answer = agent.send(event("realtime", "insert", row("/x")), seq=None)
        assert answer.status_code == 200
        assert (answer.json()["seq"], answer.json()["duplicate"]) == (None, False)
    assert fusion.query().ok("stats")["rows_accepted"] == 2


BAD_ROWS: list[tuple[dict[str, Any], str]] = [
    ({"path": "relative/x"}, "invalid: path: path must start with '/'"),
    ({"path": "/a/../b"}, "invalid: path: path must not contain empty, '.' or '..' segments"),
    ({"path": "/a//b"}, "invalid: path: path must not contain empty, '.' or '..' segments"),
    ({"path": "/a\u0000b"}, "invalid: path: path must not contain NUL bytes"),
    ({"path": "/trailing/"}, "invalid: path: path must not end with '/'"),
    ({"path": 17}, "invalid: path: Input should be a valid string"),
    ({"is_dir": False}, "invalid: path: Field required"),
    ({"path": "/s", "size": -1}, "invalid: size: Input should be greater than or equal to 0"),
    ({"path": "/s", "size": "big"}, "invalid: size: Input should be a valid integer"),
    # types are strict: nothing is coerced
    ({"path": "/s", "size": "10"}, "invalid: size: Input should be a valid integer"),
    ({"path": "/s", "size": 10.0}, "invalid: size: Input should be a valid integer"),
    ({"path": "/s", "size": True}, "invalid: size: Input should be a valid integer"),
    ({"path": "/s", "is_dir": "yes"}, "invalid: is_dir: Input should be a valid boolean"),
    ({"path": "/s", "is_dir": 1}, "invalid: is_dir: Input should be a valid boolean"),
    ({"path": "/s", "mtime": "1.5"}, "invalid: mtime: Input should be a valid number"),
    ({"path": "/s", "mtime": False}, "invalid: mtime: Input should be a valid number"),
    ({"path": "/s", "colour": "red"}, "invalid: colour: Extra inputs are not permitted"),
    ("not a row", "invalid: row: Input should be a valid dictionary or instance of Row"),
    ({"path": "/" + "x" * 5000}, "invalid: path: String should have at most 4096 characters"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD_ROWS)
def test_a_malformed_row_is_dropped_with_its_reason_and_the_rest_applies(
    fusion: Fusion, bad: dict[str, Any], reason: str
) -> None:
    agent = fusion.agent().open()
    answer = agent.send_ok(event("realtime", "insert", row("/good1"), bad, row("/good2")))
    assert (answer["accepted"], answer["dropped"]) == (2, 1)
    assert answer["reasons"] == {reason: 1}
    assert tree_names(fusion) == ["good1", "good2"]


def test_invalid_utf8_names_are_dropped_per_row(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    # a surrogate escape, as Python's surrogateescape produces for undecodable bytes
    body = (
        b'{"seq": 1, "events": [{"message_source": "realtime", "event_type": "insert", "index": 1,'
        b' "rows": [{"path": "/ok"}, {"path": "/caf\\udce9"}, {"path": "/\\ud800x"}]}]}'
    )
    answer = agent.http.post(agent.url("/events"), content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["accepted"] == 1
    assert answer.json()["reasons"] == {"invalid: path: path is not valid UTF-8": 2}
    # raw bytes that are not UTF-8 at all, straight in the body
    raw = (
        b'{"seq": 2, "events": [{"message_source": "realtime", "event_type": "insert", "index": 1,'
        b' "rows": [{"path": "/ok2"}, {"path": "/caf\xe9"}]}]}'
    )
    answer = agent.http.post(agent.url("/events"), content=raw)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["accepted"], answer.json()["reasons"]) == (
        1,
        {"invalid: path: path is not valid UTF-8": 1},
    )
    assert tree_names(fusion) == ["ok", "ok2"]


def test_non_finite_numbers_are_dropped_per_row(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    body = (
        b'{"seq": 1, "events": [{"message_source": "realtime", "event_type": "insert", "index": 1,'
        b' "rows": [{"path": "/ok"}, {"path": "/nan", "mtime": NaN}, {"path": "/inf", "mtime": Infinity}]}]}'
    )
    answer = agent.http.post(agent.url("/events"), content=body)
    assert answer.status_code == 200, answer.text
    assert answer.json()["reasons"] == {"invalid: mtime: must be a finite number": 2}


ENVELOPES: list[tuple[bytes, str]] = [
    (b"not json", "body: not valid JSON"),
    (b"", "body: not valid JSON"),
    (b"[1, 2]", "body: expected a JSON object, got an array"),
    (b'{"events": {"a": 1}}', "events: Input should be a valid list"),
    (b'{"seq": 1}', "events: Field required"),
    (b'{"events": [], "seq": "one"}', "seq: Input should be a valid integer"),
    (b'{"events": [], "seq": "1"}', "seq: Input should be a valid integer"),
    (b'{"events": [], "seq": true}', "seq: Input should be a valid integer"),
    (
        b'{"events": [{"message_source": "realtime", "event_type": "insert", "index": "5", "rows": []}]}',
        "events.0.index: Input should be a valid integer",
    ),
    (b'{"events": [], "seq": 0}', "seq: "),
    (b'{"events": [], "seq": -4}', "seq: "),
    (b'{"events": [], "extra": true}', "extra: Extra inputs are not permitted"),
    (
        b'{"events": [{"message_source": "telepathy", "event_type": "insert", "index": 1, "rows": []}]}',
        "events.0.message_source: Input should be 'realtime', 'snapshot' or 'audit'",
    ),
    (
        b'{"events": [{"message_source": "realtime", "event_type": "upsert", "index": 1, "rows": []}]}',
        "events.0.event_type: ",
    ),
    (
        b'{"events": [{"message_source": "realtime", "event_type": "insert", "rows": []}]}',
        "events.0.index: Field required",
    ),
    (
        b'{"events": [{"message_source": "realtime", "event_type": "insert", "index": -1, "rows": []}]}',
        "events.0.index: ",
    ),
    (
        b'{"events": [{"message_source": "realtime", "event_type": "insert", "index": 1, "rows": "x"}]}',
        "events.0.rows: Input should be a valid list",
    ),
    (b'{"events": [7]}', "events.0: "),
    (b"[" * 100_000 + b"]" * 100_000, "body: not valid JSON"),
]


@pytest.mark.parametrize(("body", "message"), ENVELOPES)
def test_a_malformed_envelope_is_422_naming_the_field(fusion: Fusion, body: bytes, message: str) -> None:
    agent = fusion.agent().open()
    status, code, text = error_of(agent.http.post(agent.url("/events"), content=body))
    assert (status, code) == (422, "invalid")
    assert text.startswith(message), text
    assert fusion.query().ok("stats")["rows_accepted"] == 0
    # the refused seq is not consumed: the corrected batch goes under the same number
    assert agent.send_ok(event("realtime", "insert", row("/f")))["seq"] == 1


def test_too_many_rows_is_413(start_fusion: StartFusion) -> None:
    fusion = start_fusion(max_batch_rows=100)
    agent = fusion.agent().open()
    rows = [row(f"/f{i}") for i in range(60)]
    status, code, message = error_of(
        agent.send(event("snapshot", "insert", *rows), event("realtime", "insert", *rows))
    )
    assert (status, code) == (413, "payload_too_large")
    assert "120 rows" in message and "100" in message
    # also when the batch is malformed elsewhere (the row-by-row path counts too)
    status, _, _ = error_of(
        agent.send(event("snapshot", "insert", *rows), event("realtime", "insert", *rows, {"x": 1}))
    )
    assert status == 413
    # refused batches consumed no seq
    assert agent.send(event("snapshot", "insert", *rows), seq=1).json()["accepted"] == 60


def test_body_over_the_limit_is_413(start_fusion: StartFusion) -> None:
    fusion = start_fusion(max_body_bytes=4096)
    agent = fusion.agent().open()
    rows = [row(f"/a-rather-long-file-name-{i:05d}.dat") for i in range(100)]
    status, code, _ = error_of(agent.send(event("snapshot", "insert", *rows)))
    assert (status, code) == (413, "payload_too_large")

    def chunks() -> Any:  # no Content-Length: the limit holds while streaming too
        for _ in range(10):
            yield b" " * 1000

    status, code, _ = error_of(agent.http.post(agent.url("/events"), content=chunks()))
    assert (status, code) == (413, "payload_too_large")
    assert agent.send(event("snapshot", "insert", *rows[:5]), seq=1).json()["accepted"] == 5


def test_a_resent_batch_is_applied_once(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    first = agent.send(event("realtime", "insert", row("/f"), {"path": "bad"}), seq=1)
    assert agent.send(event("realtime", "delete", row("/f")), seq=2).status_code == 200
    again = agent.send(event("realtime", "insert", row("/f"), {"path": "bad"}), seq=1)
    assert again.status_code == 200
    assert again.json() == {**first.json(), "duplicate": True}
    assert tree_names(fusion) == []  # the re-sent insert did not resurrect /f
    assert fusion.query().ok("stats")["rows_accepted"] == 2


def test_batches_apply_in_seq_order_whatever_the_arrival_order(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    answers: dict[int, httpx.Response] = {}
    late = threading.Thread(
        target=lambda: answers.update({2: agent.send(event("realtime", "delete", row("/f")), seq=2)})
    )
    late.start()
    session = session_of(fusion, agent)
    wait_until(lambda: session.sequencer.waiting == 1)  # seq 2 is parked, waiting for seq 1
    assert tree_names(fusion) == []
    answers[1] = fusion.agent().http.post(
        agent.url("/events"), json={"seq": 1, "events": [event("realtime", "insert", row("/f"))]}
    )
    late.join(timeout=10)
    assert answers[1].status_code == answers[2].status_code == 200
    assert tree_names(fusion) == []  # insert then delete, not delete then insert
    assert agent.heartbeat().json()["applied_seq"] == 2


def test_a_gap_that_is_never_filled_is_409(start_fusion: StartFusion) -> None:
    fusion = start_fusion(ordering_wait_s=0.3)
    agent = fusion.agent().open()
    status, code, message = error_of(agent.send(event("realtime", "insert", row("/f")), seq=3))
    assert (status, code) == (409, "seq_gap")
    assert "seq 1" in message
    status, code, _ = error_of(agent.send(event("realtime", "insert", row("/f")), seq=10_000))
    assert (status, code) == (409, "seq_gap")
    assert tree_names(fusion) == []
    for seq in (1, 2, 3):
        assert agent.send(event("realtime", "insert", row(f"/f{seq}")), seq=seq).status_code == 200
    assert tree_names(fusion) == ["f1", "f2", "f3"]


def test_audit_end_waits_for_the_batches_sent_before_it(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    agent.send_ok(
        event("snapshot", "insert", row("/d", is_dir=True), row("/d/keep"), row("/d/gone"))
    )  # seq 1
    agent.signal_ok("audit/start")
    ended: dict[str, Any] = {}
    closer = threading.Thread(target=lambda: ended.update(agent.signal_ok("audit/end", {"after_seq": 2})))
    closer.start()  # audit/end overtakes the audit batch it must follow
    session = session_of(fusion, agent)
    wait_until(lambda: session.sequencer.waiting == 1)
    # the audit lists /d fully and finds only /d/keep
    agent.send_ok(event("audit", "insert", row("/d", is_dir=True), row("/d/keep", parent_path="/d")))  # seq 2
    closer.join(timeout=10)
    assert set(ended.pop("view")) == {"id", "seq", "restored"}
    assert ended == {"session_id": agent.sid, "signal": "audit_end", "applied_seq": 2, "deleted": 1}
    assert tree_names(fusion, "/d") == ["keep"]


def test_lifecycle_signals(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    for name in ("snapshot/start", "snapshot/end", "audit/start"):
        answer = agent.signal_ok(name)
        assert answer.pop("view")["id"].startswith("v-")
        expected = {"session_id": agent.sid, "signal": name.replace("/", "_"), "applied_seq": 0}
        if name == "snapshot/end":  # a snapshot is a listing too: its end reports what it removed
            expected["deleted"] = 0
        assert answer == expected
    stats = fusion.query().ok("stats")
    assert (stats["audit_running"], stats["snapshot_running"]) == (True, False)
    assert stats["last_snapshot_end"] is not None
    assert agent.signal_ok("audit/end", {})["deleted"] == 0
    assert fusion.query().ok("stats")["audit_running"] is False
    for body in (
        b"[]",
        b'{"after_seq": "x"}',
        b'{"after_seq": -1}',
        b'{"later": 1}',
        b"{",
        b'{"after_seq": false}',
    ):
        status, code, _ = error_of(agent.http.post(agent.url("/audit/start"), content=body))
        assert (status, code) == (422, "invalid"), body


def test_sentinel_tasks_and_feedback(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    agent.send_ok(event("snapshot", "insert", row("/a", size=1, mtime=100.0), row("/b", size=1, mtime=100.0)))
    tasks = agent.http.get(agent.url("/sentinel/tasks"), params={"limit": 10})
    assert tasks.status_code == 200
    assert tasks.json() == {"paths": []}  # no suspect rule loaded: nothing to re-check
    feedback = {
        "updates": [
            {"path": "/a", "exists": False},
            {"path": "/b", "exists": True, "mtime": 200.0, "size": 9},
            {"path": "/missing", "exists": True, "mtime": 1.0},
            {"path": "nope", "exists": True},
            {"path": "/c", "exists": "perhaps"},
        ]
    }
    answer = agent.http.post(agent.url("/sentinel/feedback"), json=feedback)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "accepted": 2,
        "dropped": 2,
        "unchanged": 1,
        "reasons": {
            "invalid: path: path must start with '/'": 1,
            "invalid: exists: Input should be a valid boolean": 1,
        },
    }
    node = fusion.query().ok("tree", path="/b", depth=0)
    assert (node["mtime"], node["size"]) == (200.0, 9)
    assert tree_names(fusion) == ["b"]
    for body in (b"{}", b'{"updates": 3}', b"nope"):
        assert error_of(agent.http.post(agent.url("/sentinel/feedback"), content=body))[0] == 422
    assert error_of(agent.http.get(agent.url("/sentinel/tasks"), params={"limit": 0}))[0] == 422


def test_sessions_of_an_unknown_or_restarted_fusion_are_409(fusion: Fusion) -> None:
    agent = fusion.agent()
    agent.sid = "s-from-before-the-restart"
    assert error_of(agent.send(event("realtime", "insert", row("/f"))))[:2] == (409, "session_expired")
    assert error_of(agent.signal("audit/start"))[:2] == (409, "session_expired")
    assert error_of(agent.heartbeat())[:2] == (409, "session_expired")


def test_concurrent_sessions_do_not_corrupt_the_tree(fusion: Fusion) -> None:
    agents = [fusion.agent(f"host-{i}").open() for i in range(4)]

    def push(agent: Agent, i: int) -> None:
        for batch in range(10):
            rows = [row(f"/h{i}/b{batch}/f{n}") for n in range(50)]
            assert agent.send(event("realtime", "insert", *rows)).status_code == 200

    threads = [threading.Thread(target=push, args=(agent, i)) for i, agent in enumerate(agents)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    stats = fusion.query().ok("stats")
    assert stats["files"] == 4 * 10 * 50
    assert stats["dirs"] == 4 + 4 * 10
    assert json.dumps(stats)  # a plain JSON object

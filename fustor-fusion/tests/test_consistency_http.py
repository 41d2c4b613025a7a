"""The engine's consistency scenarios again, end to end through HTTP with the default rules.

Tombstones, suspects and blind spots must survive the trip: what the rules decide is what the
agent is told (drop reasons) and what readers see (flags, lists, stats).
"""

from __future__ import annotations

from typing import Any

from fusion_testkit import T0, Agent, Fusion, Query, StartFusion, event, row, wait_until

OLD = 1_000_000.0  # an mtime long before the fake clock's "now": cold, older than any delete


def leader_with_rules(start_fusion: StartFusion) -> tuple[Fusion, Agent, Query]:
    fusion = start_fusion(rules=True, clock=True, tick_interval_s=0.05)
    return fusion, fusion.agent("host-a").open(), fusion.query()


def paths(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["path"] for entry in entries]


def exists(query: Query, path: str) -> bool:
    return query.get("tree", path=path, depth=0).status_code == 200


def test_tombstone_keeps_a_deleted_file_deleted(start_fusion: StartFusion) -> None:
    fusion, leader, query = leader_with_rules(start_fusion)
    leader.send_ok(event("snapshot", "insert", row("/d", is_dir=True, mtime=OLD), row("/d/f", mtime=OLD)))
    leader.send_ok(event("realtime", "delete", row("/d/f")))
    assert query.ok("stats")["tombstones"] == 1
    stale = leader.send_ok(event("snapshot", "insert", row("/d/f", mtime=OLD), row("/d/g", mtime=OLD)))
    assert (stale["accepted"], stale["dropped"], stale["reasons"]) == (1, 1, {"tombstoned": 1})
    assert not exists(query, "/d/f")
    assert exists(query, "/d/g")
    # a follower's realtime delete counts just the same
    follower = fusion.agent("host-b").open()
    follower.send_ok(event("realtime", "delete", row("/d/g")))
    again = leader.send_ok(event("snapshot", "insert", row("/d/g", mtime=OLD)))
    assert again["reasons"] == {"tombstoned": 1}
    # a file newer than the delete (beyond the clock's 2 s tolerance) is a new file: accepted,
    # tombstone cleared
    assert fusion.clock is not None
    newer = leader.send_ok(event("snapshot", "insert", row("/d/f", mtime=fusion.clock.t + 3, size=42)))
    assert newer["accepted"] == 1
    assert query.ok("tree", path="/d/f")["size"] == 42
    assert query.ok("stats")["tombstones"] == 1  # only /d/g's remains


def test_suspect_is_flagged_listed_rechecked_and_released_by_the_tick(start_fusion: StartFusion) -> None:
    fusion, leader, query = leader_with_rules(start_fusion)
    assert fusion.clock is not None
    hot_mtime = T0 - 60  # written a minute ago by the logical clock (no skew observed yet)
    leader.send_ok(
        event(
            "snapshot",
            "insert",
            row("/up", is_dir=True, mtime=OLD),
            row("/up/hot", mtime=hot_mtime),
            row("/up/cold", mtime=OLD),
        )
    )
    assert query.ok("tree", path="/up/hot")["integrity_suspect"] is True
    assert query.ok("tree", path="/up/cold")["integrity_suspect"] is False
    flags = {c["name"]: c["integrity_suspect"] for c in query.ok("tree", path="/up")["children"]}
    assert flags == {"cold": False, "hot": True}
    listed = query.ok("suspects")
    assert paths(listed) == ["/up/hot"]
    assert listed[0]["mtime"] == hot_mtime
    assert query.ok("stats")["suspects"] == 1
    tasks = leader.http.get(leader.url("/sentinel/tasks")).json()
    assert tasks == {"paths": ["/up/hot"]}
    # the file stays unchanged; once its TTL (the hot window, 600 s) passes, the tick releases it
    fusion.clock.advance(601)
    wait_until(lambda: query.ok("suspects") == [], timeout=10)
    assert query.ok("tree", path="/up/hot")["integrity_suspect"] is False


def test_sentinel_feedback_and_realtime_clear_suspects(start_fusion: StartFusion) -> None:
    _, leader, query = leader_with_rules(start_fusion)
    leader.send_ok(
        event(
            "snapshot", "insert", row("/a", mtime=T0 - 30), row("/b", mtime=T0 - 30), row("/c", mtime=T0 - 30)
        )
    )
    assert paths(query.ok("suspects")) == ["/a", "/b", "/c"]
    feedback = {
        "updates": [{"path": "/a", "exists": False}, {"path": "/b", "exists": True, "mtime": OLD, "size": 1}]
    }
    answer = leader.http.post(leader.url("/sentinel/feedback"), json=feedback)
    assert answer.status_code == 200
    assert answer.json()["accepted"] == 2
    assert not exists(query, "/a")
    leader.send_ok(event("realtime", "update", row("/c", mtime=T0 - 1)))
    assert query.ok("suspects") == []


def test_blind_spots_are_found_by_audit_listed_and_reset_by_a_new_leader(start_fusion: StartFusion) -> None:
    fusion, leader, query = leader_with_rules(start_fusion)
    follower = fusion.agent("host-b").open()
    leader.send_ok(
        event(
            "snapshot",
            "insert",
            row("/d", is_dir=True, mtime=OLD),
            row("/d/a", mtime=OLD),
            row("/d/b", mtime=OLD),
        )
    )
    leader.signal_ok("audit/start")
    leader.send_ok(
        event(
            "audit",
            "insert",
            row("/d", is_dir=True, mtime=OLD + 10),
            row("/d/a", mtime=OLD, parent_path="/d", parent_mtime=OLD + 10),
            row("/d/new", mtime=OLD + 10, parent_path="/d", parent_mtime=OLD + 10),
        )
    )
    ended = leader.signal_ok("audit/end", {"after_seq": leader.seq})
    assert ended["deleted"] == 1
    spots = query.ok("blind-spots")
    assert paths(spots["additions"]) == ["/d/new"]
    assert paths(spots["deletions"]) == ["/d/b"]
    assert query.ok("tree", path="/d/new")["agent_missing"] is True
    assert query.ok("tree", path="/d/a")["agent_missing"] is False
    stats = query.ok("stats")
    assert (stats["blind_spot_additions"], stats["blind_spot_deletions"], stats["has_blind_spot"]) == (
        1,
        1,
        True,
    )
    found = query.ok("search", pattern="new", path="/d")
    assert [(n["path"], n["agent_missing"]) for n in found] == [("/d/new", True)]
    # the leader leaves; the follower's next heartbeat makes it leader: discovery starts afresh
    assert leader.http.delete(leader.url("")).status_code == 200
    assert follower.heartbeat().json()["role"] == "leader"
    assert query.ok("blind-spots")["additions"] == []
    assert query.ok("stats")["has_blind_spot"] is False


def test_blind_spot_pages_cover_both_lists_exactly_once(start_fusion: StartFusion) -> None:
    _, leader, query = leader_with_rules(start_fusion)
    known = [f"/d/k{i}" for i in range(5)]
    leader.send_ok(
        event("snapshot", "insert", row("/d", is_dir=True, mtime=OLD), *[row(p, mtime=OLD) for p in known])
    )
    leader.signal_ok("audit/start")
    new = [f"/d/n{i}" for i in range(7)]
    leader.send_ok(
        event(
            "audit",
            "insert",
            row("/d", is_dir=True, mtime=OLD + 10),
            *[row(p, mtime=OLD + 10, parent_path="/d", parent_mtime=OLD + 10) for p in new],
        )
    )
    leader.signal_ok("audit/end")
    additions: list[str] = []
    deletions: list[str] = []
    cursor = ""
    for _ in range(20):
        answer = query.get("blind-spots", limit=3, cursor=cursor)
        body = answer.json()
        additions += paths(body["additions"])
        deletions += paths(body["deletions"])
        cursor = body["next_cursor"] or ""
        assert answer.headers.get("x-next-cursor", "") == cursor
        if not cursor:
            break
    assert additions == new
    assert deletions == known

"""The query API: tree with depth, bounded answers paged by cursor, search, stats, errors."""

from __future__ import annotations

from typing import Any

import pytest
from fusion_testkit import Agent, Fusion, Query, error_of, event, row


def load(agent: Agent, *paths: str) -> None:
    rows = [
        row(p, is_dir=p.endswith("/")) if not p.endswith("/") else row(p.rstrip("/"), is_dir=True)
        for p in paths
    ]
    agent.send_ok(event("snapshot", "insert", *rows))


def test_tree_depth_and_node_shape(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    agent.send_ok(
        event(
            "snapshot",
            "insert",
            row("/up", is_dir=True, mtime=10.0),
            row("/up/s1", is_dir=True),
            row("/up/s1/a.dat", size=3, mtime=11.5),
            row("/up/s1/deep", is_dir=True),
            row("/up/s1/deep/z", size=4),
            row("/up/b.dat", size=5),
        )
    )
    query = fusion.query()
    node = query.ok("tree", path="/up", depth=0)
    assert node == {
        "path": "/up",
        "name": "up",
        "is_dir": True,
        "size": 0,
        "mtime": 10.0,
        "integrity_suspect": False,
        "agent_missing": False,
        "files": 3,
        "dirs": 2,
        "bytes": 12,
    }
    one = query.ok("tree", path="/up")  # depth defaults to 1
    assert [c["name"] for c in one["children"]] == ["b.dat", "s1"]
    assert "children" not in one["children"][1]
    full = query.ok("tree", path="/up", depth=-1)
    s1 = full["children"][1]
    assert [c["name"] for c in s1["children"]] == ["a.dat", "deep"]
    assert s1["children"][1]["children"][0]["path"] == "/up/s1/deep/z"
    leaf = query.ok("tree", path="/up/s1/a.dat")
    assert (leaf["is_dir"], leaf["size"], leaf["mtime"]) == (False, 3, 11.5)
    for flag in ("integrity_suspect", "agent_missing"):
        assert leaf[flag] is False


def test_a_large_directory_is_paged_without_repeats_or_skips(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    names = [f"f{i:04d}" for i in range(250)]
    agent.send_ok(event("snapshot", "insert", row("/big", is_dir=True), *[row(f"/big/{n}") for n in names]))
    query = fusion.query()
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"path": "/big", "limit": 100}
        if cursor:
            params["cursor"] = cursor
        answer = query.get("tree", **params)
        assert answer.status_code == 200
        body = answer.json()
        seen.extend(c["name"] for c in body["children"])
        cursor = body.get("next_cursor")
        assert answer.headers.get("x-next-cursor") == cursor
        pages += 1
        if pages == 1:
            # between pages: one entry already returned goes, one after the cursor arrives
            agent.send_ok(event("realtime", "delete", row("/big/f0001")))
            agent.send_ok(event("realtime", "insert", row("/big/f0200x")))
        if not cursor:
            break
    assert pages == 3
    expected = sorted(set(names) | {"f0200x"})
    assert seen == expected  # f0001 was already returned; nothing repeated, nothing skipped


def test_answers_are_bounded_by_default(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    rows = [row(f"/d/f{i:05d}") for i in range(1200)]
    agent.send_ok(event("snapshot", "insert", row("/d", is_dir=True), *rows))
    body = fusion.query().ok("tree", path="/d")
    assert len(body["children"]) == 1000
    assert body["next_cursor"]
    found = fusion.query().get("search", pattern="f*")
    assert len(found.json()) == 1000
    assert found.headers["x-next-cursor"]
    nested = fusion.query().ok("tree", path="/", depth=-1, max_nodes=50)
    assert nested["children"][0]["truncated"] is True


def test_search_pages_by_path(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    paths = [f"/s/{d}/x{i}.dat" for d in ("a", "b", "c") for i in range(5)]
    agent.send_ok(
        event("snapshot", "insert", *[row(p) for p in paths], row("/s/a/other.txt"), row("/s/z.dat"))
    )
    query = fusion.query()
    collected: list[str] = []
    cursor = ""
    while True:
        answer = query.get("search", pattern="x*.dat", path="/s", limit=4, cursor=cursor)
        assert answer.status_code == 200
        collected.extend(node["path"] for node in answer.json())
        cursor = answer.headers.get("x-next-cursor", "")
        if not cursor:
            break
    assert collected == sorted(paths)
    hit = query.ok("search", pattern="z.dat")
    assert [n["path"] for n in hit] == ["/s/z.dat"]
    assert set(hit[0]) >= {"path", "name", "is_dir", "size", "mtime", "integrity_suspect", "agent_missing"}


def test_stats_suspects_blindspots_sessions_shapes(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    load(agent, "/a/", "/a/b", "/c")
    query = fusion.query()
    stats = query.ok("stats")
    for key in ("suspects", "tombstones", "blind_spot_additions", "blind_spot_deletions"):
        assert stats[key] == 0
    assert (stats["files"], stats["dirs"], stats["has_blind_spot"]) == (2, 1, False)
    assert (stats["leader"], stats["sessions"]) == (agent.sid, 1)
    assert query.ok("suspects") == []
    assert query.ok("blind-spots") == {"additions": [], "deletions": [], "next_cursor": None}
    assert [s["session_id"] for s in query.ok("sessions")] == [agent.sid]


BAD_QUERIES: list[tuple[str, dict[str, Any], int, str]] = [
    ("tree", {"path": "/nowhere"}, 404, "path_not_found"),
    ("tree", {"path": "relative"}, 422, "invalid_path"),
    ("tree", {"path": "/a/../b"}, 422, "invalid_path"),
    ("tree", {"path": "/a\x00b"}, 422, "invalid_path"),
    ("tree", {"depth": "deep"}, 422, "invalid"),
    ("tree", {"depth": -2}, 422, "invalid"),
    ("tree", {"limit": 0}, 422, "invalid"),
    ("tree", {"limit": 10_001}, 422, "invalid"),
    ("tree", {"max_nodes": 0}, 422, "invalid"),
    ("tree", {"cursor": "%%%not-base64"}, 422, "invalid"),
    ("tree", {"cursor": "A"}, 422, "invalid"),  # not base64url: 6 bits are not a byte
    ("tree", {"cursor": "QQ=="}, 422, "invalid"),  # cursors are unpadded
    ("search", {"pattern": ""}, 422, "invalid"),
    ("search", {"type": "x"}, 422, "invalid"),
    ("search", {"min_size": -1}, 422, "invalid"),
    ("search", {"mtime_before": "soon"}, 422, "invalid"),
    ("search", {"pattern": "*", "path": "/nowhere"}, 404, "path_not_found"),
    ("search", {"pattern": "x" * 2000}, 422, "invalid"),
    ("suspects", {"limit": "many"}, 422, "invalid"),
    ("blind-spots", {"limit": -1}, 422, "invalid"),
]


def test_every_cursor_the_document_allows_is_accepted(fusion: Fusion) -> None:
    """Any unpadded base64url string is a valid cursor (as the OpenAPI pattern says), even one
    whose bytes are not UTF-8: it is a position among names, nothing more."""
    fusion.agent().open().send_ok(event("snapshot", "insert", row("/a", is_dir=True)))
    for cursor in ("_w", "AAAA", "-_-_", "YWJj"):
        assert fusion.query().get("tree", path="/", cursor=cursor).status_code == 200, cursor


@pytest.mark.parametrize(("what", "params", "status", "code"), BAD_QUERIES)
def test_query_errors(fusion: Fusion, what: str, params: dict[str, Any], status: int, code: str) -> None:
    fusion.agent().open().send_ok(event("snapshot", "insert", row("/a", is_dir=True)))
    got_status, got_code, message = error_of(fusion.query().get(what, **params))
    assert (got_status, got_code) == (status, code), message
    if status == 422 and params:
        assert any(name in message for name in params), message


def test_unknown_routes_and_methods_answer_json(fusion: Fusion) -> None:
    client = fusion.client()
    assert error_of(client.get("/api/v1/nothing"))[:2] == (404, "not_found")
    assert error_of(client.delete("/healthz"))[:2] == (405, "method_not_allowed")
    assert error_of(Query(fusion.client(), "demo").get("nope"))[0] == 404

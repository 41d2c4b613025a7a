"""``GET .../search`` with find's filters: type, size and mtime ranges, path globs, flags; a
filtered page examines a bounded number of nodes and says where to continue."""

from __future__ import annotations

from typing import Any

import pytest
from fusion_testkit import Fusion, error_of, event, row

from fustor_fusion import search_filter


def _load(fusion: Fusion) -> None:
    agent = fusion.agent().open()
    agent.send_ok(
        event(
            "snapshot",
            "insert",
            row("/a", is_dir=True, mtime=100.0),
            row("/a/x.dat", size=10, mtime=100.0),
            row("/a/y.dat", size=20, mtime=200.0),
            row("/a/sub", is_dir=True, mtime=300.0),
            row("/a/sub/x.dat", size=30, mtime=300.0),
            row("/a/sub/z.txt", size=40, mtime=400.0),
        )
    )


def _paths(fusion: Fusion, **params: Any) -> list[str]:
    return [node["path"] for node in fusion.query().ok("search", **params)]


def test_each_filter_selects_what_it_says(fusion: Fusion) -> None:
    _load(fusion)
    assert _paths(fusion, path="/a") == ["/a/sub", "/a/sub/x.dat", "/a/sub/z.txt", "/a/x.dat", "/a/y.dat"]
    assert _paths(fusion, path="/a", type="d") == ["/a/sub"]
    assert _paths(fusion, path="/a", type="f", min_size=20, max_size=30) == ["/a/sub/x.dat", "/a/y.dat"]
    assert _paths(fusion, path="/a", mtime_from=200.0, mtime_before=400.0) == [
        "/a/sub",
        "/a/sub/x.dat",
        "/a/y.dat",
    ]
    assert _paths(fusion, path="/a", path_pattern="/a/*/x.dat") == ["/a/sub/x.dat"]
    assert _paths(fusion, path="/a", path_pattern="*sub*", pattern="*.dat") == ["/a/sub/x.dat"]
    assert _paths(fusion, path="/a", flags="!integrity_suspect", type="f", max_size=10) == ["/a/x.dat"]
    assert _paths(fusion, path="/a", flags="integrity_suspect") == []


def test_unknown_flag_and_bad_type_are_refused(fusion: Fusion) -> None:
    _load(fusion)
    status, code, message = error_of(fusion.query().get("search", path="/a", flags="complete"))
    assert (status, code) == (422, "unknown_flag")
    assert "integrity_suspect" in message
    assert error_of(fusion.query().get("search", path="/a", type="x"))[0] == 422
    assert error_of(fusion.query().get("search", path="/a", mtime_from="nan"))[0] == 422


def test_a_filtered_page_stops_at_its_scan_budget_and_continues(
    fusion: Fusion, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a budget of 2 nodes a page cannot look at the whole tree: it answers what it found
    with a cursor, and following the cursors yields every match exactly once."""
    _load(fusion)
    monkeypatch.setattr(search_filter, "SCAN_BUDGET", 2)
    query = fusion.query()
    first = query.get("search", path="/a", type="f", pattern="*.dat")
    assert first.status_code == 200
    assert "X-Next-Cursor" in first.headers
    found = [node["path"] for node in first.json()]
    cursor = first.headers["X-Next-Cursor"]
    pages = 1
    while cursor:
        answer = query.get("search", path="/a", type="f", pattern="*.dat", cursor=cursor)
        found += [node["path"] for node in answer.json()]
        cursor = answer.headers.get("X-Next-Cursor")
        pages += 1
    assert found == ["/a/sub/x.dat", "/a/x.dat", "/a/y.dat"]
    assert pages >= 2


def test_an_unfiltered_search_is_paged_as_before(fusion: Fusion) -> None:
    _load(fusion)
    first = fusion.query().get("search", path="/a", limit=2)
    assert [node["path"] for node in first.json()] == ["/a/sub", "/a/sub/x.dat"]
    assert first.headers["X-Next-Cursor"]

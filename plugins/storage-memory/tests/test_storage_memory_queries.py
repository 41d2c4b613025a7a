"""The query answers: node() with depth, paging and budgets, and search()."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fustor_core.event_model import Row
from fustor_storage_memory import MemoryTreeStore, query
from fustor_storage_memory.tree import Dir


def f(path: str, size: int = 0, mtime: float = 0.0) -> Row:
    return Row(path=path, is_dir=False, size=size, mtime=mtime)


def d(path: str, mtime: float = 0.0, size: int = 0) -> Row:
    return Row(path=path, is_dir=True, size=size, mtime=mtime)


def up(store: MemoryTreeStore, rows: list[Row]) -> None:
    store.upsert(rows, range(len(rows)), None)


def count_nodes(node: dict[str, Any]) -> int:
    return 1 + sum(count_nodes(child) for child in node.get("children", []))


@pytest.fixture
def store() -> MemoryTreeStore:
    s = MemoryTreeStore()
    up(
        s,
        [
            d("/a", 1.0, size=4096),
            f("/a/B.txt", 10, 2.0),
            f("/a/z.bin", 20, 3.0),
            f("/a/m/1", 1),
            f("/a/m/2", 2),
            f("/a/m/n/3", 3),
            d("/a/empty", 4.0),
            f("/b", 5),
        ],
    )
    return s


# ------------------------------------------------------------------------------------- node


def test_file_node_is_exactly_the_documented_dict(store: MemoryTreeStore) -> None:
    flags = {"integrity_suspect": {"/a/B.txt"}.__contains__, "agent_missing": {"/x"}.__contains__}
    assert store.node("/a/B.txt", depth=3, flags=flags, limit=10) == {
        "path": "/a/B.txt",
        "name": "B.txt",
        "is_dir": False,
        "size": 10,
        "mtime": 2.0,
        "integrity_suspect": True,
        "agent_missing": False,
    }


def test_directory_node_at_depth_zero(store: MemoryTreeStore) -> None:
    assert store.node("/a", depth=0, flags={"agent_missing": lambda p: p == "/a"}, limit=10) == {
        "path": "/a",
        "name": "a",
        "is_dir": True,
        "size": 4096,
        "mtime": 1.0,
        "agent_missing": True,
        "files": 5,
        "dirs": 3,
        "bytes": 36,
    }


def test_absent_paths_give_none(store: MemoryTreeStore) -> None:
    assert store.node("/nope", depth=1, flags={}, limit=10) is None
    assert store.node("/a/B.txt/under", depth=1, flags={}, limit=10) is None
    assert store.node("/nope/deeper", depth=1, flags={}, limit=10) is None


def test_children_sorted_by_name_dirs_and_files_interleaved(store: MemoryTreeStore) -> None:
    node = store.node("/a", depth=1, flags={}, limit=100)
    assert node is not None
    assert [c["name"] for c in node["children"]] == ["B.txt", "empty", "m", "z.bin"]  # plain str order
    assert [c["is_dir"] for c in node["children"]] == [False, True, True, False]
    m = node["children"][2]
    assert m == {
        "path": "/a/m",
        "name": "m",
        "is_dir": True,
        "size": 0,
        "mtime": 0.0,
        "files": 3,
        "dirs": 1,
        "bytes": 6,
    }  # depth exhausted: no "children" key
    assert "next_cursor" not in node


def test_depth_counts_levels_below_the_node(store: MemoryTreeStore) -> None:
    node = store.node("/a", depth=2, flags={}, limit=100)
    assert node is not None
    m = next(c for c in node["children"] if c["name"] == "m")
    assert [c["name"] for c in m["children"]] == ["1", "2", "n"]
    assert "children" not in m["children"][2]
    empty = next(c for c in node["children"] if c["name"] == "empty")
    assert empty["children"] == []
    assert "truncated" not in m and "truncated" not in empty


def test_root_node(store: MemoryTreeStore) -> None:
    node = store.node("/", depth=1, flags={"x": lambda p: p == "/"}, limit=100)
    assert node is not None
    assert (node["path"], node["name"], node["is_dir"], node["x"]) == ("/", "", True, True)
    assert (node["files"], node["dirs"], node["bytes"]) == (6, 4, 41)
    assert [(c["path"], c["name"]) for c in node["children"]] == [("/a", "a"), ("/b", "b")]


def test_flags_are_called_with_each_nodes_path(store: MemoryTreeStore) -> None:
    seen: list[str] = []

    def record(path: str) -> bool:
        seen.append(path)
        return path.endswith("2")

    node = store.node("/a/m", depth=5, flags={"hot": record}, limit=100)
    assert node is not None
    assert sorted(seen) == ["/a/m", "/a/m/1", "/a/m/2", "/a/m/n", "/a/m/n/3"]
    assert [c["hot"] for c in node["children"]] == [False, True, False]


def page_through(
    store: MemoryTreeStore, path: str, limit: int, between: Callable[[int], None] | None = None
) -> list[str]:
    names: list[str] = []
    after = None
    for page in range(1000):
        node = store.node(path, depth=1, flags={}, limit=limit, after=after)
        assert node is not None
        chunk = [c["name"] for c in node["children"]]
        assert len(chunk) <= limit
        assert chunk == sorted(chunk)
        names.extend(chunk)
        if "next_cursor" not in node:
            return names
        assert node["next_cursor"] == chunk[-1]
        after = node["next_cursor"]
        if between is not None:
            between(page)
    raise AssertionError("paging did not end")


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_paging_with_cursor_visits_every_child_once(limit: int) -> None:
    s = MemoryTreeStore()
    up(s, [f(f"/big/file_{n:03d}", n) for n in range(40)] + [d(f"/big/dir_{n:02d}") for n in range(10)])
    names = page_through(s, "/big", limit)
    assert names == sorted([f"file_{n:03d}" for n in range(40)] + [f"dir_{n:02d}" for n in range(10)])


def test_paging_a_huge_directory_uses_the_same_order() -> None:
    """Pages much smaller than the directory take the bounded-heap path; same answers."""
    s = MemoryTreeStore()
    up(s, [f(f"/h/{n * 7919 % 1000:04d}") for n in range(1000)])
    assert page_through(s, "/h", 9) == [f"{n:04d}" for n in range(1000)]


def test_changes_between_pages_neither_repeat_nor_skip_survivors() -> None:
    s = MemoryTreeStore()
    up(s, [f(f"/d/{n:03d}") for n in range(0, 100, 2)])  # even names exist throughout
    survivors = {f"{n:03d}" for n in range(0, 100, 2)}

    def churn(page: int) -> None:
        # insert odd names everywhere (before and after the cursor), delete some, re-add others
        up(s, [f(f"/d/{n:03d}") for n in range(page * 7 % 100 | 1, 100, 9)])
        s.delete(f"/d/{(page * 13 % 50) * 2 + 1:03d}")
        up(s, [f("/d/000"), f("/d/098")])  # rewriting survivors must not repeat them

    names = page_through(s, "/d", 6, between=churn)
    assert len(names) == len(set(names)), "a name was listed twice"
    assert survivors <= set(names), "a name that existed throughout was skipped"


def test_cursor_past_the_end_and_limit_zero(store: MemoryTreeStore) -> None:
    node = store.node("/a", depth=1, flags={}, limit=10, after="zzz")
    assert node is not None and node["children"] == [] and "next_cursor" not in node
    node = store.node("/a", depth=1, flags={}, limit=0)
    assert node is not None and node["children"] == []
    assert "next_cursor" not in node and node["truncated"] is True


def test_max_nodes_cuts_nested_listings_breadth_first() -> None:
    s = MemoryTreeStore()
    up(s, [f(f"/t/{k}/{n:02d}") for k in ("a", "b", "c") for n in range(10)])
    full = s.node("/t", depth=2, flags={}, limit=100)
    assert full is not None and count_nodes(full) == 1 + 3 + 30
    assert not any("truncated" in c for c in full["children"])

    node = s.node("/t", depth=2, flags={}, limit=100, max_nodes=20)
    assert node is not None
    assert count_nodes(node) == 20
    a, b, c = node["children"]
    assert [len(a["children"]), len(b["children"]), len(c["children"])] == [10, 6, 0]
    assert "truncated" not in a
    assert b["truncated"] is True and [x["name"] for x in b["children"]] == [f"{n:02d}" for n in range(6)]
    assert c["truncated"] is True
    assert "truncated" not in node and "next_cursor" not in node


def test_max_nodes_also_bounds_the_top_listing_with_a_cursor() -> None:
    s = MemoryTreeStore()
    up(s, [f(f"/t/{n:02d}") for n in range(30)])
    node = s.node("/t", depth=1, flags={}, limit=100, max_nodes=11)
    assert node is not None and len(node["children"]) == 10 and node["next_cursor"] == "09"
    rest = s.node("/t", depth=1, flags={}, limit=100, max_nodes=100, after=node["next_cursor"])
    assert rest is not None and [c["name"] for c in rest["children"]] == [f"{n:02d}" for n in range(10, 30)]


def test_deeper_levels_wait_for_shallower_ones() -> None:
    s = MemoryTreeStore()
    up(s, [f("/t/a/x/deep1"), f("/t/a/x/deep2"), f("/t/b/y/deep3"), f("/t/b/z")])
    node = s.node("/t", depth=3, flags={}, limit=100, max_nodes=7)
    assert node is not None and count_nodes(node) == 7
    a, b = node["children"]
    assert [c["name"] for c in a["children"]] == ["x"] and [c["name"] for c in b["children"]] == ["y", "z"]
    x = a["children"][0]
    assert [c["name"] for c in x["children"]] == ["deep1"] and x["truncated"] is True
    y = b["children"][0]
    assert y["children"] == [] and y["truncated"] is True


# ----------------------------------------------------------------------------------- search


def paths(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["path"] for n in nodes]


def test_search_by_name_in_component_order() -> None:
    s = MemoryTreeStore()
    up(s, [f("/u/a/x.dat"), f("/u/a-b/y.dat"), f("/u/a/z.txt"), f("/u/b.dat"), d("/u/a/c.dat")])
    # depth first, children by name: /u/a/... before /u/a-b although "a-b" < "a/x" as strings
    assert paths(s.search("*", "/u", flags={}, limit=100)) == [
        "/u/a",
        "/u/a/c.dat",
        "/u/a/x.dat",
        "/u/a/z.txt",
        "/u/a-b",
        "/u/a-b/y.dat",
        "/u/b.dat",
    ]
    hits = s.search("*.dat", "/", flags={"hot": lambda p: "x" in p}, limit=100)
    assert paths(hits) == ["/u/a/c.dat", "/u/a/x.dat", "/u/a-b/y.dat", "/u/b.dat"]
    assert hits[0] == {
        "path": "/u/a/c.dat",
        "name": "c.dat",
        "is_dir": True,
        "size": 0,
        "mtime": 0.0,
        "hot": False,
        "files": 0,
        "dirs": 0,
        "bytes": 0,
    }
    assert hits[1] == {
        "path": "/u/a/x.dat",
        "name": "x.dat",
        "is_dir": False,
        "size": 0,
        "mtime": 0.0,
        "hot": True,
    }


def test_search_excludes_under_itself_and_missing_roots() -> None:
    s = MemoryTreeStore()
    up(s, [f("/a/a/a")])
    assert paths(s.search("a", "/a", flags={}, limit=10)) == ["/a/a", "/a/a/a"]
    assert paths(s.search("a", "/", flags={}, limit=10)) == ["/a", "/a/a", "/a/a/a"]
    assert s.search("*", "/nope", flags={}, limit=10) == []
    assert s.search("*", "/a/a/a", flags={}, limit=10) == []  # a file has nothing below it
    assert s.search("*", "/", flags={}, limit=0) == []


def test_glob_semantics() -> None:
    s = MemoryTreeStore()
    up(s, [f("/g/data_7.dat"), f("/g/data_17.dat"), f("/g/Data_8.dat"), f("/g/x[1].txt"), f("/g/.hidden")])
    assert paths(s.search("data_?.dat", "/", flags={}, limit=10)) == ["/g/data_7.dat"]
    assert paths(s.search("[dD]ata_[0-9].dat", "/", flags={}, limit=10)) == ["/g/Data_8.dat", "/g/data_7.dat"]
    assert paths(s.search("x[[]1].txt", "/", flags={}, limit=10)) == ["/g/x[1].txt"]
    assert paths(s.search("*", "/g", flags={}, limit=10))[0] == "/g/.hidden"  # fnmatch: '*' matches dots
    assert s.search("DATA_7.DAT", "/", flags={}, limit=10) == []  # case-sensitive


def test_pattern_with_slash_matches_full_paths() -> None:
    s = MemoryTreeStore()
    up(s, [f("/up/1/sub_1/a.dat"), f("/up/1/sub_2/a.dat"), f("/up/2/sub_1/b.dat"), f("/up/sub_1")])
    assert paths(s.search("*/sub_1/*.dat", "/", flags={}, limit=10)) == [
        "/up/1/sub_1/a.dat",
        "/up/2/sub_1/b.dat",
    ]
    assert paths(s.search("/up/*/sub_1", "/up", flags={}, limit=10)) == ["/up/1/sub_1", "/up/2/sub_1"]
    assert paths(s.search("/up/sub_1", "/", flags={}, limit=10)) == ["/up/sub_1"]


def _search_tree() -> MemoryTreeStore:
    s = MemoryTreeStore()
    rows = [f(f"/s/{a}/{b}/{c}.dat") for a in ("a", "a-b", "b") for b in ("x", "y") for c in range(3)]
    rows += [f("/s/a/x.dat"), d("/s/a/x/empty.dat"), f("/s/zz.dat")]
    up(s, rows)
    return s


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
@pytest.mark.parametrize("pattern", ["*", "*.dat", "1.dat", "/s/a*/y/*"])
def test_search_paging_concatenates_to_the_full_answer(limit: int, pattern: str) -> None:
    s = _search_tree()
    full = paths(s.search(pattern, "/s", flags={}, limit=10_000))
    got: list[str] = []
    after = None
    for _ in range(len(full) + 2):  # each page must make progress
        page = paths(s.search(pattern, "/s", flags={}, limit=limit, after=after))
        assert len(page) <= limit
        got.extend(page)
        if len(page) < limit:
            break
        after = page[-1]
    assert got == full
    assert len(full) == len(set(full)) > 0


@pytest.mark.parametrize("name", ["1.dat", "zz.dat", "x.dat", "empty.dat", "x", "nothing"])
def test_a_name_without_wildcards_matches_as_its_glob_does_from_every_cursor(name: str) -> None:
    """A literal name is looked up per directory instead of matched against every file: from any
    cursor it finds what the equivalent glob (one letter in brackets) finds."""
    s = _search_tree()
    glob = f"[{name[0]}]{name[1:]}"
    cursors = [None, *paths(s.search("*", "/s", flags={}, limit=10_000))]
    for after in cursors:
        assert s.search(name, "/s", flags={}, limit=10_000, after=after) == s.search(
            glob, "/s", flags={}, limit=10_000, after=after
        ), after


def test_search_resumes_after_a_vanished_path() -> None:
    s = _search_tree()
    full = paths(s.search("*", "/s", flags={}, limit=10_000))
    cursor = "/s/a/x/1.dat"
    i = full.index(cursor)
    s.delete("/s/a/x")  # the cursor and its parent are gone
    expected = [p for p in full[i + 1 :] if not p.startswith("/s/a/x/")]
    assert paths(s.search("*", "/s", flags={}, limit=10_000, after=cursor)) == expected
    # a cursor naming a path that never existed resumes at the next path in order
    assert paths(s.search("*", "/s", flags={}, limit=3, after="/s/a-a")) == [
        "/s/a-b",
        "/s/a-b/x",
        "/s/a-b/x/0.dat",
    ]


def test_search_cursor_outside_under() -> None:
    s = _search_tree()
    everything = paths(s.search("*", "/s/a-b", flags={}, limit=100))
    assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s/a")) == everything  # before
    assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s")) == everything  # an ancestor
    assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s/a-b")) == everything  # itself
    assert s.search("*", "/s/a-b", flags={}, limit=100, after="/s/b") == []  # past the subtree
    assert s.search("*", "/s/a-b", flags={}, limit=100, after="/zz") == []


def test_search_skips_whole_subtrees_before_the_cursor(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resuming descends along the cursor instead of walking everything before it."""
    s = MemoryTreeStore()
    up(s, [f(f"/big/{k:03d}/{n}") for k in range(100) for n in range(20)])
    listed: list[str] = []
    real = query.sorted_names

    def spy(directory: Dir) -> list[str]:
        listed.append(directory.name)
        return real(directory)

    monkeypatch.setattr(query, "sorted_names", spy)
    page = s.search("*", "/big", flags={}, limit=5, after="/big/098/5")
    assert paths(page) == ["/big/098/6", "/big/098/7", "/big/098/8", "/big/098/9", "/big/099"]
    assert listed == ["big", "098"]

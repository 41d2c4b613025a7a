"""How MemoryTreeStore answers queries (the answers themselves are core's contract suite, run by
test_storage_memory_contract.py): resuming a search descends along the cursor."""

from __future__ import annotations

from typing import Any

import pytest

from fustor_core.event_model import Row
from fustor_storage_memory import MemoryTreeStore, query
from fustor_storage_memory.tree import Dir


def f(path: str, size: int = 0, mtime: float = 0.0) -> Row:
    return Row(path=path, is_dir=False, size=size, mtime=mtime)


def up(store: MemoryTreeStore, rows: list[Row]) -> None:
    store.upsert(rows, range(len(rows)), None)


def paths(nodes: list[dict[str, Any]]) -> list[str]:
    return [n["path"] for n in nodes]


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


def _search_tree() -> MemoryTreeStore:
    s = MemoryTreeStore()
    rows = [f(f"/s/{a}/{b}/{c}.dat") for a in ("a", "a-b", "b") for b in ("x", "y") for c in range(3)]
    rows += [f("/s/a/x.dat"), Row(path="/s/a/x/empty.dat", is_dir=True), f("/s/zz.dat")]
    up(s, rows)
    return s


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

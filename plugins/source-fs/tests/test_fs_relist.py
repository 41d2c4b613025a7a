"""The relisting behind ``fresh=true``: a subtree listed in full; a file or a vanished path lists
its directory alone, keeping its subdirectories; the cache outside the subtree is left alone."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from fs_testkit import age_tree, make_source, rows_by_path


def relist(source: Any, cache: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    return rows_by_path(source.relist(threading.Event(), 100, cache, path))


def build(tree: Path) -> None:
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f1").write_bytes(b"1")
    (tree / "a" / "f2").write_bytes(b"22")
    (tree / "c").mkdir()
    (tree / "c" / "f3").write_bytes(b"333")
    age_tree(tree)


def test_a_directory_is_listed_with_everything_below_it_even_when_its_mtime_is_cached(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    rows_by_path(source.audit(threading.Event(), 100, cache))  # every directory cached now
    assert "/a" in cache and "/c" in cache
    rows = relist(source, cache, "/a")
    assert set(rows) == {"/a", "/a/b", "/a/b/f1", "/a/f2"}  # nothing outside /a
    assert not any(row.get("audit_skipped") for row in rows.values())  # no mtime skip
    assert rows["/a"]["parent_path"] == "/" and rows["/a"]["parent_mtime"] == os.lstat(tree).st_mtime
    assert rows["/a/f2"]["size"] == 2
    assert "/c" in cache  # the cache outside the subtree is kept


def test_a_file_lists_its_directory_alone_and_keeps_the_subdirectories(tree: Path) -> None:
    build(tree)
    rows = relist(make_source(tree), {}, "/a/f2")
    assert set(rows) == {"/a", "/a/b", "/a/f2"}
    assert not rows["/a"].get("audit_skipped")  # /a fully listed: Fusion may remove what it lacks
    assert rows["/a/b"]["audit_skipped"] is True and rows["/a/b"]["parent_path"] == "/a"  # named, not listed


def test_a_vanished_path_lists_its_nearest_existing_directory(tree: Path) -> None:
    build(tree)
    rows = relist(make_source(tree), {}, "/c/gone/deeper")
    assert set(rows) == {"/c", "/c/f3"}


def test_paths_that_leave_the_tree_are_refused(tree: Path) -> None:
    build(tree)
    with pytest.raises(ValueError):
        relist(make_source(tree), {}, "/a/../../etc")

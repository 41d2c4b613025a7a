"""The audit walk: unchanged directories are skipped but descended, changed ones listed in full."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from fs_testkit import age_tree, make_deep_chain, make_source, rows_by_path


def audit(source: Any, cache: dict[str, Any], batch_size: int = 100) -> dict[str, dict[str, Any]]:
    return rows_by_path(source.audit(threading.Event(), batch_size, cache))


def build(tree: Path) -> None:
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f1").write_bytes(b"1")
    (tree / "a" / "f2").write_bytes(b"22")
    (tree / "c").mkdir()
    age_tree(tree)


def test_first_audit_lists_everything_with_parent_mtimes(tree: Path) -> None:
    build(tree)
    rows = audit(make_source(tree), {})
    assert set(rows) == {"/", "/a", "/a/b", "/a/b/f1", "/a/f2", "/c"}
    assert not any(row.get("audit_skipped") for row in rows.values())
    for path, row in rows.items():
        if path == "/":
            assert row["parent_path"] is None
            continue
        parent = os.path.dirname(path)
        assert row["parent_path"] == parent
        assert row["parent_mtime"] == os.lstat(str(tree) + parent if parent != "/" else tree).st_mtime


def test_unchanged_tree_sends_only_skipped_directory_rows(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    audit(source, cache)
    rows = audit(source, cache)
    assert set(rows) == {"/", "/a", "/a/b", "/c"}
    assert all(row["is_dir"] and row["audit_skipped"] for row in rows.values())


def test_a_change_deep_down_is_found_below_skipped_ancestors(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    audit(source, cache)
    (tree / "a" / "b" / "new").write_bytes(b"333")
    past = time.time() - 100  # the change is settled (outside the racy window)
    os.utime(tree / "a" / "b", (past, past))
    rows = audit(source, cache)
    assert rows["/"]["audit_skipped"] and rows["/a"]["audit_skipped"]
    assert not rows["/a/b"].get("audit_skipped")
    assert set(rows) == {"/", "/a", "/a/b", "/a/b/f1", "/a/b/new", "/c"}
    assert rows["/a/b/new"]["size"] == 3
    assert rows["/a/b/new"]["parent_mtime"] == past


def test_snapshot_seeded_cache_makes_the_first_audit_send_no_file_rows(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    list(source.snapshot(threading.Event(), 100, cache))
    rows = audit(source, cache)
    assert all(row["is_dir"] for row in rows.values())
    assert len(rows) == 4


def test_a_cache_saved_as_json_and_loaded_back_still_skips_unchanged_directories(tree: Path) -> None:
    """The agent saves the cache as JSON after a scan and loads it after a restart (tuples come
    back as lists): the audit that resumes from it skips what did not change."""
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    list(source.snapshot(threading.Event(), 100, cache))
    reloaded = json.loads(json.dumps(cache))
    assert all(isinstance(value, list) for value in reloaded.values())
    rows = audit(source, reloaded)
    assert set(rows) == {"/", "/a", "/a/b", "/c"} and all(row["audit_skipped"] for row in rows.values())


def test_cache_entries_of_another_shape_are_listed_not_fatal(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    list(source.snapshot(threading.Event(), 100, cache))
    mtime = cache["/a"][0]
    cache["/"] = "garbage"  # a string: not an entry
    cache["/a"] = [mtime, ["b", 7]]  # a name that is not one: listed again next time
    cache["/a/b"] = [int(mtime), []]  # an mtime that is not a float: not an entry
    rows = audit(source, cache)
    assert not rows["/"].get("audit_skipped") and not rows["/a/b"].get("audit_skipped")
    assert rows["/a"]["audit_skipped"] and "/a" not in cache
    assert rows["/c"]["audit_skipped"]


def test_recently_modified_directories_are_listed_again(tree: Path) -> None:
    build(tree)
    (tree / "c" / "fresh").touch()  # /c's mtime is now: inside the racy window
    source = make_source(tree)
    cache: dict[str, Any] = {}
    audit(source, cache)
    rows = audit(source, cache)
    assert not rows["/c"].get("audit_skipped")
    assert "/c/fresh" in rows


def test_vanished_directories_leave_the_cache(tree: Path) -> None:
    build(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    audit(source, cache)
    assert "/c" in cache
    (tree / "c").rmdir()
    past = time.time() - 100
    os.utime(tree, (past, past))
    rows = audit(source, cache)
    assert "/c" not in rows and "/c" not in cache


def test_deep_trees_are_audited_iteratively(tree: Path) -> None:
    make_deep_chain(tree, 1200)
    age_tree(tree)
    source = make_source(tree)
    cache: dict[str, Any] = {}
    assert len(audit(source, cache, batch_size=1000)) == 1201
    second = audit(source, cache, batch_size=1000)
    assert len(second) == 1201 and all(row["audit_skipped"] for row in second.values())


def test_entries_vanishing_mid_audit_are_left_out(tree: Path) -> None:
    for i in range(5):
        (tree / f"f{i}").touch()
    source = make_source(tree)
    walk = source.audit(threading.Event(), 1, {})
    first = next(walk)  # the root's row and its first entry; the other four are not stat'ed yet
    assert first[0]["path"] == "/" and len(first) == 2
    for i in range(5):
        (tree / f"f{i}").unlink()
    assert [row for batch in walk for row in batch] == []
    assert source.counters()["vanished"] == 4

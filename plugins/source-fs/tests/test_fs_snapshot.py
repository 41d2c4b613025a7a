"""The snapshot walk: every entry once, relative paths, robust to what real trees contain."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from fs_testkit import make_deep_chain, make_source, rows_by_path

from fustor_source_fs.paths import is_sendable_name


def test_snapshot_lists_every_entry_once_with_paths_relative_to_the_root(tree: Path) -> None:
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f.dat").write_bytes(b"12345")
    (tree / "top.txt").write_bytes(b"x")
    source = make_source(tree)
    rows = rows_by_path(source.snapshot(threading.Event(), 2, {}))
    assert set(rows) == {"/a", "/a/b", "/a/b/f.dat", "/top.txt"}
    assert rows["/a"]["is_dir"] is True and rows["/a"]["size"] == 0
    assert rows["/a/b/f.dat"]["size"] == 5
    assert rows["/a/b/f.dat"]["mtime"] == os.lstat(tree / "a/b/f.dat").st_mtime
    assert source.counters()["snapshot_walks"] == 1


def test_snapshot_rows_come_in_batches_of_the_requested_size(tree: Path) -> None:
    for i in range(25):
        (tree / f"f{i}").touch()
    batches = list(make_source(tree).snapshot(threading.Event(), 10, {}))
    assert [len(batch) for batch in batches] == [10, 10, 5]


def test_symlinks_are_sent_as_links_and_never_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret").touch()
    os.symlink(outside, tree / "link-to-dir")
    os.symlink(tree, tree / "loop")
    os.symlink("/nonexistent", tree / "dangling")
    rows = rows_by_path(make_source(tree).snapshot(threading.Event(), 100, {}))
    assert set(rows) == {"/link-to-dir", "/loop", "/dangling"}
    assert not any(row.get("is_dir") for row in rows.values())
    assert rows["/dangling"]["size"] == len("/nonexistent")


def test_names_that_are_not_utf8_are_skipped_and_counted(tree: Path) -> None:
    os.mkdir(os.path.join(os.fsencode(tree), b"bad-\xff-dir"))
    open(
        os.path.join(
            os.fsencode(tree),
            b"bad-\xfe-dir",
        ),
        "wb",
    ).close()
    open(os.path.join(os.fsencode(tree), b"bad-\xff-dir", b"inner"), "wb").close()
    (tree / "good-é.txt").touch()
    source = make_source(tree)
    rows = rows_by_path(source.snapshot(threading.Event(), 100, {}))
    assert set(rows) == {"/good-é.txt"}
    assert all(is_sendable_name(path) for path in rows)
    assert source.counters()["invalid_utf8"] == 2


def test_very_deep_trees_do_not_hit_any_recursion_limit(tree: Path) -> None:
    depth = 1500  # deeper than Python's default recursion limit of 1000
    deepest = make_deep_chain(tree, depth)
    open(os.path.join(deepest, "leaf"), "w").close()
    rows = rows_by_path(make_source(tree).snapshot(threading.Event(), 500, {}))
    assert len(rows) == depth + 1
    assert "/" + "/".join(["d"] * depth) + "/leaf" in rows


def test_files_vanishing_mid_scan_are_skipped_not_fatal(tree: Path) -> None:
    for i in range(10):
        (tree / f"f{i}").touch()
    (tree / "sub").mkdir()
    (tree / "sub" / "x").touch()
    source = make_source(tree)
    walk = source.snapshot(threading.Event(), 1, {})
    first = next(walk)  # the root is listed; its entries are being stat'ed one batch at a time
    for entry in tree.iterdir():  # everything else disappears before the walk gets to it
        if entry.name != first[0]["path"][1:]:
            if entry.is_dir():
                (entry / "x").unlink()
                entry.rmdir()
            else:
                entry.unlink()
    rest = [row for batch in walk for row in batch]
    assert rest == []
    assert source.counters()["vanished"] >= 1


def test_a_directory_vanishing_before_it_is_listed_is_skipped(tree: Path) -> None:
    (tree / "gone").mkdir()
    (tree / "gone" / "f").touch()
    source = make_source(tree)
    walk = source.snapshot(threading.Event(), 1, {})
    assert next(walk)[0]["path"] == "/gone"
    (tree / "gone" / "f").unlink()
    (tree / "gone").rmdir()
    assert list(walk) == []
    assert source.counters()["vanished"] == 1


def test_stop_ends_the_walk_early(tree: Path) -> None:
    for d in range(5):
        (tree / f"d{d}").mkdir()
        for i in range(5):
            (tree / f"d{d}" / f"f{i}").touch()
    stop = threading.Event()
    walk = make_source(tree).snapshot(stop, 3, {})
    next(walk)
    stop.set()
    assert list(walk) == []


def test_snapshot_seeds_the_audit_cache_for_settled_directories(tree: Path) -> None:
    (tree / "old").mkdir()
    (tree / "old" / "sub").mkdir()
    (tree / "fresh").mkdir()
    past = 1_000_000_000.0
    for path in (tree / "old" / "sub", tree / "old", tree):
        os.utime(path, (past, past))
    cache: dict[str, object] = {}
    list(make_source(tree).snapshot(threading.Event(), 100, cache))
    assert cache["/old"] == (past, ("sub",))
    assert cache["/"][0] == past  # type: ignore[index]
    assert "/fresh" not in cache  # modified just now: its listing may already be stale

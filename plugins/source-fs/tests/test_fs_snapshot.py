"""The snapshot walk: a complete listing of every directory, robust to what real trees contain."""

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
    assert set(rows) == {"/", "/a", "/a/b", "/a/b/f.dat", "/top.txt"}
    assert rows["/a"]["is_dir"] is True and rows["/a"]["size"] == 0
    assert rows["/a/b/f.dat"]["size"] == 5
    assert rows["/a/b/f.dat"]["mtime"] == os.lstat(tree / "a/b/f.dat").st_mtime
    assert source.counters()["snapshot_walks"] == 1


def test_snapshot_rows_are_listings_each_directory_first_then_its_entries(tree: Path) -> None:
    """Fusion deletes what a fully listed directory does not hold: every directory's own row
    (not skipped) comes before its entries, and every row names the listed directory."""
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "f1").write_bytes(b"1")
    (tree / "a" / "b" / "f2").write_bytes(b"22")
    rows = [row for batch in make_source(tree).snapshot(threading.Event(), 100, {}) for row in batch]
    order = [row["path"] for row in rows]
    assert order.index("/") < order.index("/a") < order.index("/a/f1")
    assert order.index("/a/b") < order.index("/a/b/f2")
    by_path = {row["path"]: row for row in rows}
    assert by_path["/"]["parent_path"] is None and by_path["/"]["parent_mtime"] is None
    for path, row in by_path.items():
        assert not row.get("audit_skipped")
        if path == "/":
            continue
        parent = os.path.dirname(path)
        assert row["parent_path"] == parent
        assert row["parent_mtime"] == os.lstat(str(tree) + parent if parent != "/" else tree).st_mtime


def test_snapshot_rows_come_in_batches_of_the_requested_size(tree: Path) -> None:
    for i in range(24):
        (tree / f"f{i}").touch()
    batches = list(make_source(tree).snapshot(threading.Event(), 10, {}))
    assert [len(batch) for batch in batches] == [10, 10, 5]  # the root's row and 24 files


def test_symlinks_are_sent_as_links_and_never_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "deep").mkdir(parents=True)
    (outside / "deep" / "secret").touch()
    os.symlink(outside, tree / "link-to-dir")
    os.symlink(tree, tree / "loop")
    os.symlink("/nonexistent", tree / "dangling")
    rows = rows_by_path(make_source(tree).snapshot(threading.Event(), 100, {}))
    assert set(rows) == {"/", "/link-to-dir", "/loop", "/dangling"}
    assert not any(row.get("is_dir") for path, row in rows.items() if path != "/")
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
    assert set(rows) == {"/", "/good-é.txt"}
    assert all(is_sendable_name(path) for path in rows)
    assert source.counters()["invalid_utf8"] == 2


def test_very_deep_trees_do_not_hit_any_recursion_limit(tree: Path) -> None:
    depth = 1500  # deeper than Python's default recursion limit of 1000
    deepest = make_deep_chain(tree, depth)
    open(os.path.join(deepest, "leaf"), "w").close()
    rows = rows_by_path(make_source(tree).snapshot(threading.Event(), 500, {}))
    assert len(rows) == depth + 2  # the root, every level, the leaf
    assert "/" + "/".join(["d"] * depth) + "/leaf" in rows


def test_files_vanishing_mid_scan_are_skipped_not_fatal(tree: Path) -> None:
    for i in range(10):
        (tree / f"f{i}").touch()
    (tree / "sub").mkdir()
    (tree / "sub" / "x").touch()
    source = make_source(tree)
    walk = source.snapshot(threading.Event(), 1, {})
    assert next(walk)[0]["path"] == "/"
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
    assert next(walk)[0]["path"] == "/"  # the root is listed: /gone waits on the stack
    (tree / "gone" / "f").unlink()
    (tree / "gone").rmdir()
    assert list(walk) == []  # no row for /gone: Fusion may delete it, which is the truth
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

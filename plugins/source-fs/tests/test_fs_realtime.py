"""Realtime: inotify events become rows by looking at what changed."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

from fs_testkit import WatchRecorder, make_deep_chain, make_source, wait_for

from fustor_source_fs.counters import Counters
from fustor_source_fs.realtime import TreeWatcher, _outermost


def test_create_modify_delete_become_insert_update_delete_rows(tree: Path) -> None:
    with WatchRecorder(make_source(tree)) as watch:
        (tree / "f").write_bytes(b"hello")
        created = watch.wait_path("insert", "/f")
        assert created["parent_path"] == "/"
        assert created["parent_mtime"] == os.lstat(tree).st_mtime
        with open(tree / "f", "ab") as handle:
            handle.write(b" world")
        wait_for(
            lambda: any(row["path"] == "/f" and row["size"] == 11 for _, row in watch.rows()), what="size 11"
        )
        (tree / "f").unlink()
        deleted = watch.wait_path("delete", "/f")
        assert set(deleted) == {"path", "parent_path", "parent_mtime"}


def test_a_rename_is_a_delete_of_the_old_path_and_an_insert_of_the_new(tree: Path) -> None:
    (tree / "old.txt").write_bytes(b"abc")
    with WatchRecorder(make_source(tree)) as watch:
        os.rename(tree / "old.txt", tree / "new.txt")
        watch.wait_path("delete", "/old.txt")
        assert watch.wait_path("insert", "/new.txt")["size"] == 3


def test_a_directory_tree_moved_in_is_sent_with_its_contents(tree: Path, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    (staging / "run1" / "lane1").mkdir(parents=True)
    for i in range(50):
        (staging / "run1" / "lane1" / f"r{i}.fastq").write_bytes(b"x" * i)
    (staging / "run1" / "summary.txt").touch()
    with WatchRecorder(make_source(tree), batch_size=7) as watch:
        os.rename(staging / "run1", tree / "run1")
        wait_for(lambda: len(watch.paths("insert")) == 53, what="53 inserts")
        inserted = {row["path"]: row for _, row in watch.rows("insert")}
        assert inserted["/run1"]["is_dir"] and inserted["/run1/lane1"]["is_dir"]
        assert inserted["/run1/lane1/r49.fastq"]["size"] == 49
        assert inserted["/run1/lane1/r49.fastq"]["parent_path"] == "/run1/lane1"
        assert max(len(event.rows) for event in watch.events) <= 7
        # the moved-in directories are watched from now on
        (tree / "run1" / "lane1" / "late.fastq").touch()
        watch.wait_path("insert", "/run1/lane1/late.fastq")


def test_a_new_directory_and_files_written_into_it_at_once_are_all_seen(tree: Path) -> None:
    with WatchRecorder(make_source(tree)) as watch:
        for d in range(5):
            path = tree / f"d{d}" / "x" / "y"
            path.mkdir(parents=True)
            for i in range(20):
                (path / f"f{i}").touch()
        expected = {f"/d{d}/x/y/f{i}" for d in range(5) for i in range(20)}
        wait_for(lambda: expected <= watch.paths("insert") | watch.paths("update"), what="all 100 files")


def test_a_deleted_directory_is_one_delete_for_its_subtree(tree: Path) -> None:
    (tree / "gone" / "a" / "b").mkdir(parents=True)
    for i in range(10):
        (tree / "gone" / "a" / "b" / f"f{i}").touch()
    with WatchRecorder(make_source(tree)) as watch:
        shutil.rmtree(tree / "gone")
        watch.wait_path("delete", "/gone")
        assert not watch.paths("insert") and not watch.paths("update")


def test_deletes_inside_a_deleted_directory_collapse_into_one() -> None:
    deleted = ["/gone/a/b/f1", "/gone/a", "/gone", "/gone/a/b", "/other/x", "/gone-too"]
    assert _outermost(deleted) == ["/gone", "/gone-too", "/other/x"]


def test_a_directory_moved_out_is_deleted_and_no_longer_watched(tree: Path, tmp_path: Path) -> None:
    (tree / "out" / "sub").mkdir(parents=True)
    with WatchRecorder(make_source(tree)) as watch:
        os.rename(tree / "out", tmp_path / "elsewhere")
        watch.wait_path("delete", "/out")
        (tmp_path / "elsewhere" / "sub" / "after-move").touch()
        (tree / "marker").touch()
        watch.wait_path("insert", "/marker")
        assert not any("after-move" in row["path"] for _, row in watch.rows())


def test_symlinks_are_reported_as_links_and_not_followed(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    with WatchRecorder(make_source(tree)) as watch:
        os.symlink(outside, tree / "link")
        row = watch.wait_path("insert", "/link")
        assert row["is_dir"] is False
        (outside / "written-outside").touch()
        (tree / "marker").touch()
        watch.wait_path("insert", "/marker")
        assert not any("written-outside" in r["path"] for _, r in watch.rows())


def test_names_that_are_not_utf8_are_skipped_and_counted(tree: Path) -> None:
    source = make_source(tree)
    with WatchRecorder(source) as watch:
        open(os.path.join(os.fsencode(tree), b"bad-\xff"), "wb").close()
        (tree / "after").touch()
        watch.wait_path("insert", "/after")
        wait_for(lambda: source.counters().get("invalid_utf8", 0) >= 1, what="the skip to be counted")
        assert all(row["path"].isprintable() for _, row in watch.rows())


def test_deep_trees_are_watched_at_every_level(tree: Path) -> None:
    deepest = make_deep_chain(tree, 1100)
    source = make_source(tree)
    with WatchRecorder(source) as watch:
        assert source.counters()["watched_dirs"] == 1101
        open(os.path.join(deepest, "leaf"), "w").close()
        watch.wait_path("insert", "/" + "/".join(["d"] * 1100) + "/leaf")


def test_changes_queued_when_stopping_are_still_yielded(tree: Path) -> None:
    watcher = TreeWatcher(str(tree), Counters())
    stop = threading.Event()
    try:
        watcher.watch_tree(stop)
        (tree / "just-before-shutdown").touch()
        stop.set()  # already stopping when the watcher first looks: it drains, then ends
        rows = [row["path"] for events in watcher.changes(stop) for event in events for row in event.rows]
    finally:
        watcher.close()
    assert rows == ["/just-before-shutdown"]


def test_a_directory_a_scan_finds_unwatched_gets_watched(tree: Path) -> None:
    """A directory created from another host raised no event here; once an audit reports it,
    changes made through this host inside it are seen in realtime."""
    (tree / "from-elsewhere").mkdir()
    source = make_source(tree)
    with WatchRecorder(source) as watch:
        watcher = source._watcher
        assert watcher is not None
        # what a directory created through another NFS client looks like to this host's inotify
        watcher.inotify.rm_watch(watcher.path_to_wd.pop("/from-elsewhere"))
        (tree / "from-elsewhere" / "unseen.dat").touch()
        stop = threading.Event()
        audited = [row["path"] for batch in source.audit(stop, 100, {}) for row in batch]
        assert "/from-elsewhere" in audited
        assert "/from-elsewhere" in watcher.path_to_wd  # watched before the scan reported it
        (tree / "from-elsewhere" / "seen.dat").write_bytes(b"now")
        assert watch.wait_path("insert", "/from-elsewhere/seen.dat")["size"] == 3
        assert source.counters().get("watches_added_by_scans") == 1

"""Realtime rows that Fusion may trust: which rows are clock samples (``local_write``), and
when realtime admits that it may have missed changes (:class:`EventsLost`)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from fs_testkit import WatchRecorder, make_source, wait_for

from fustor_core.agent_api import EventsLost, OutgoingEvent
from fustor_source_fs.counters import Counters
from fustor_source_fs.realtime import TreeWatcher

YEAR_AGO = time.time() - 365 * 86400


def overflow_the_queue(tree: Path) -> None:
    """More events than the kernel queues (``max_queued_events``), fast: writes alternating
    between two files (identical consecutive events would be merged into one)."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    fds = [os.open(tree / name, os.O_CREAT | os.O_WRONLY, 0o644) for name in ("ping", "pong")]
    try:
        for i in range(limit + 100):
            os.pwrite(fds[i % 2], b"x", 0)
    finally:
        for fd in fds:
            os.close(fd)


def rows_of(watch: WatchRecorder, path: str) -> list[dict[str, Any]]:
    return [row for _, row in watch.rows() if row["path"] == path]


def test_files_written_on_this_host_are_local_writes(tree: Path) -> None:
    started = time.time()
    with WatchRecorder(make_source(tree)) as watch:
        (tree / "new.dat").write_bytes(b"hello")
        wait_for(lambda: any(r.get("local_write") for r in rows_of(watch, "/new.dat")), what="a local write")
        (tree / "dir").mkdir()
        with open(tree / "new.dat", "ab") as handle:
            handle.write(b" again")
        wait_for(lambda: any(r["size"] == 11 for r in rows_of(watch, "/new.dat")), what="the append")
        assert rows_of(watch, "/new.dat")[-1]["local_write"] is True
        assert not any(row.get("local_write") for row in rows_of(watch, "/dir"))
        assert all(row["mtime"] >= started - 1 for _, row in watch.rows() if row.get("local_write"))


def test_files_and_trees_moved_in_keep_old_mtimes_and_are_not_local_writes(
    tree: Path, tmp_path: Path
) -> None:
    staging = tmp_path / "staging"
    (staging / "upload" / "lane").mkdir(parents=True)
    for i in range(20):
        path = staging / "upload" / "lane" / f"r{i}"
        path.write_bytes(b"x" * i)
        os.utime(path, (YEAR_AGO, YEAR_AGO))
    (staging / "single.dat").write_bytes(b"old")
    os.utime(staging / "single.dat", (YEAR_AGO, YEAR_AGO))
    with WatchRecorder(make_source(tree)) as watch:
        os.rename(staging / "upload", tree / "upload")
        os.rename(staging / "single.dat", tree / "single.dat")
        wait_for(lambda: len(watch.paths("insert")) == 23, what="the moved-in tree and file")
        assert not any(row.get("local_write") for _, row in watch.rows())
        # a moved-in file that is then written *is* a write made here
        with open(tree / "single.dat", "ab") as handle:
            handle.write(b"!")
        wait_for(lambda: any(r.get("local_write") for r in rows_of(watch, "/single.dat")), what="the write")


def test_a_copy_that_restores_an_old_mtime_is_never_sent_as_a_fresh_sample(tree: Path) -> None:
    """``cp -p``: create, write, then set the source's old mtime. Whether the kernel's events
    arrive in one burst or two, no row with the old mtime claims to be a local write."""
    with WatchRecorder(make_source(tree)) as watch:
        for i in range(20):
            target = tree / f"copy{i}"
            subprocess.run(["cp", "-p", "/etc/hostname", str(target)], check=True)
            os.utime(target, (YEAR_AGO, YEAR_AGO))
        wait_for(
            lambda: all(
                any(abs(r["mtime"] - YEAR_AGO) < 1 for r in rows_of(watch, f"/copy{i}")) for i in range(20)
            ),
            what="the copies' final mtimes",
        )
        assert not any(row.get("local_write") and row["mtime"] < time.time() - 60 for _, row in watch.rows())


def test_a_queue_overflow_is_reported_as_lost_events_for_the_whole_tree(tree: Path) -> None:
    counters = Counters()
    watcher = TreeWatcher(str(tree), counters)
    try:
        watcher.watch_tree(threading.Event())
        overflow_the_queue(tree)  # nothing reads meanwhile
        raw = watcher.inotify.read()
        list(watcher.resolve(raw, threading.Event()))
        assert watcher.take_lost() == [EventsLost(("/",), "overflow")]
        watcher.flush_counters()
        assert counters.snapshot()["overflows"] == 1
    finally:
        watcher.close()


def test_the_overflow_reaches_the_stream_after_the_events_read_with_it(tree: Path) -> None:
    source = make_source(tree)
    stop = threading.Event()
    ready = threading.Event()
    stream = source.watch(stop, ready.set, 1000)
    threading.Thread(target=lambda: ready.wait(10) and (tree / "marker").touch(), daemon=True).start()
    try:
        assert [row["path"] for item in next(stream) for row in item.rows] == ["/marker"]
        overflow_the_queue(tree)  # the stream is suspended here: nobody reads the kernel's queue
        items: list[Any] = []
        while not any(isinstance(item, EventsLost) for item in items):
            items.extend(next(stream))
        assert isinstance(items[0], OutgoingEvent)  # what was read is still sent, first
        assert items[-1] == EventsLost(("/",), "overflow")
        assert source.counters()["overflows"] == 1
    finally:
        stop.set()
        list(stream)


def test_a_watch_the_kernel_drops_while_the_directory_stays_is_a_lost_watch(
    tree: Path, tmp_path: Path
) -> None:
    """Unmounting a file system inside the tree drops its watches (IN_IGNORED without a delete):
    the mount point is still there, so what happens below it is unseen from now on."""
    (tree / "keep").mkdir()
    inner = tree / "mnt"
    inner.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(inner)], capture_output=True, text=True)
    assert done.returncode == 0, f"mounting a tmpfs needs root: {done.stderr}"
    try:
        (inner / "sub").mkdir()
        source = make_source(tree)
        with WatchRecorder(source) as watch:
            subprocess.run(["umount", str(inner)], check=True)
            wait_for(lambda: watch.lost, what="the lost watches to be reported")
            assert {item.reason for item in watch.lost} == {"watch_lost"}
            assert set(watch.lost[0].paths) == {"/mnt"}  # /mnt/sub is inside it: one subtree
            wait_for(lambda: source.counters().get("watches_lost") == 2, what="two watches lost")
            # a directory that is deleted loses its watch too, and that is no loss
            (tree / "keep").rmdir()
            watch.wait_path("delete", "/keep")
            time.sleep(0.3)
            assert len(watch.lost) == 1
    finally:
        if os.path.ismount(inner):
            subprocess.run(["umount", "-l", str(inner)], check=False)


def test_a_restarted_watch_reports_the_gap(tree: Path) -> None:
    source = make_source(tree)
    with WatchRecorder(source) as first:
        pass
    assert first.lost == []
    with WatchRecorder(source) as second:
        wait_for(lambda: second.lost, what="the restart to be reported")
        assert second.lost == [EventsLost(("/",), "realtime_restarted")]

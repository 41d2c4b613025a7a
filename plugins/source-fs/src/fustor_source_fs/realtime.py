"""Realtime: inotify events turned into rows by looking at what changed.

Kernel events are hints, the file system is the truth: events that arrive together are
collected per path, then each path is ``lstat``-ed once — it exists (insert/update with its
current size and mtime) or it does not (delete). That makes the order of events inside a burst
irrelevant and turns a rename into what Fusion needs: a delete of the old path and an insert of
the new one. A directory that appears (created or moved in) gets a watch *before* it is listed,
then its existing contents are sent; a directory that disappears is one delete (Fusion removes
the subtree). Rows carry ``parent_path``/``parent_mtime`` when the parent can be stat'ed, so
Fusion keeps the parent's mtime current.

A file row carries ``local_write: true`` when the burst saw a write made through this host: the
file was created (``IN_CREATE`` of a non-directory), modified (``IN_MODIFY``) or closed after
writing (``IN_CLOSE_WRITE``) — its mtime is then a fresh sample of the storage's clock. A file
moved in (``IN_MOVED_TO``), an attribute change (``touch -d``, ``chmod``), a directory, and what
the walk of a new directory finds keep whatever mtime they had and are not samples; a file
moved in and then written is. One refinement: when the burst saw the file's attributes change
after its last data write (``cp -p`` and ``rsync -a --inplace`` write, then set the old mtime),
the row is not a sample either; nor is it when the attribute change has not been read yet but
has happened: a write sets mtime and ctime to the same moment, setting the mtime afterwards moves
only the ctime on, so the ``lstat`` itself shows an mtime that is not the write's.

When realtime cannot trust that it saw everything, it says so in the stream with an
:class:`~fustor_core.agent_api.EventsLost` (the agent then has the leader audit those subtrees
in full): a queue overflow (the whole tree), a watch the kernel dropped although the directory
is still there (unmount, invalidation), or a directory that appeared and could not be watched
(watch limit, EACCES, EIO). Each is counted (``overflows``, ``watches_lost``,
``unwatched_dirs``); the watch limit is also logged once, loudly, with the fix.
"""

from __future__ import annotations

import errno
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Literal

from fustor_core.agent_api import EventsLost, OutgoingEvent, RealtimeItem, RowDict, now_ms
from fustor_core.logs import log_event
from fustor_source_fs import inotify as ino
from fustor_source_fs.appeared import walk_appeared
from fustor_source_fs.counters import Counters
from fustor_source_fs.dirs import is_dir_mode, is_regular_mode, open_dir
from fustor_source_fs.paths import child_path, decode_name, is_sendable_name, is_under, parent_of
from fustor_source_fs.problems import Problems, printable

logger = logging.getLogger(__name__)

CREATED = 1
CHANGED = 2
GONE = 4
NEW_DIR = 8
WRITTEN = 16
"""Created, modified or closed after writing through this host (``local_write`` for a file)."""
TIMES_SET = 32
"""Attributes changed after the last data write of the burst (``cp -p``/``touch -d`` set old
mtimes that way): the row's mtime is not a fresh clock sample."""

MAX_EVENTS_PER_BURST = 20_000


def _watch_limit() -> str:
    try:
        with open("/proc/sys/fs/inotify/max_user_watches") as handle:
            return handle.read().strip()
    except OSError:
        return "?"


class TreeWatcher:
    """Watches every directory of one tree and yields realtime events."""

    def __init__(
        self,
        root: str,
        counters: Counters,
        *,
        stat_errors: Counters | None = None,
        settle_s: float = 0.001,
        max_delay_s: float = 0.02,
        batch_size: int = 1000,
    ) -> None:
        self.root = root
        self.counters = counters
        self.settle_s = settle_s
        self.max_delay_s = max_delay_s
        self.batch_size = batch_size
        self.problems = Problems("realtime", counters, stat_errors)
        self.inotify = ino.Inotify()
        self.wd_to_path: dict[int, str] = {}
        self.path_to_wd: dict[str, int] = {}
        self.limit_reached = False
        self._watches_lock = threading.RLock()
        """Scans add watches from their own thread; the maps change under this lock."""
        self._deleted_wds: set[int] = set()
        """Watches whose directory was deleted (``IN_DELETE_SELF``): their removal is no loss."""
        self._lost: dict[str, set[str]] = {}
        """reason -> subtrees where changes may have been missed, until yielded."""
        self._report_unwatched = False
        """Off while the tree is first watched: the snapshot lists everything anyway."""

    # -- watches ---------------------------------------------------------------------------

    def _abs(self, path: str) -> str:
        return self.root if path == "/" else self.root + path

    def add_watch(self, path: str, *, report_loss: bool = True) -> bool:
        """Watch directory ``path``; False when it is gone, unreadable or over the limit.

        A directory that exists but cannot be watched is a realtime blind spot: with
        ``report_loss`` (and once the tree is set up) it is reported as lost, so the leader
        lists it.
        """
        try:
            wd = self.inotify.add_watch(self._abs(path))
        except OSError as exc:
            if exc.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                return False
            if exc.errno == errno.ENOSPC:
                self._limit_reached(path)
            else:
                self.problems.tallies["unwatched_dirs"] += 1
                self.problems.failed(path, exc)
            if report_loss and self._report_unwatched:
                self.lose(path, "unwatched")
            return False
        with self._watches_lock:
            previous = self.wd_to_path.get(wd)
            if previous is not None and previous != path and self.path_to_wd.get(previous) == wd:
                del self.path_to_wd[previous]  # the same directory, moved: its watch follows it
            self.wd_to_path[wd] = path
            self.path_to_wd[path] = wd
        return True

    def watch_found_directory(self, path: str) -> None:
        """Watch ``path`` now if it is not watched yet (called from a scan's thread).

        A directory created from a host without an agent raised no event here, so nothing else
        would ever watch it, and later changes made through *this* host inside it would go
        unseen. The watch is in place before the scan reports the directory.
        """
        if path in self.path_to_wd or self.limit_reached:
            return
        with self._watches_lock:
            # not reported as lost when it fails: the scan that found it is listing it now
            if path not in self.path_to_wd and self.add_watch(path, report_loss=False):
                self.counters.add("watches_added_by_scans")

    def _limit_reached(self, path: str) -> None:
        self.problems.tallies["unwatched_dirs"] += 1
        if self.limit_reached:
            return
        self.limit_reached = True
        log_event(
            logger,
            logging.ERROR,
            "inotify watch limit reached: part of the tree is not watched in realtime; "
            "audits will find changes there",
            root=self.root,
            watched_dirs=len(self.wd_to_path),
            first_unwatched=printable(path),
            max_user_watches=_watch_limit(),
            fix="raise fs.inotify.max_user_watches (sysctl)",
        )

    def lose(self, path: str, reason: str) -> None:
        """Remember that changes below ``path`` may have been missed (yielded as EventsLost)."""
        with self._watches_lock:
            self._lost.setdefault(reason, set()).add(path)

    def take_lost(self) -> list[RealtimeItem]:
        """The losses noted since the last call, one item per reason ("/" covers everything)."""
        with self._watches_lock:
            lost, self._lost = self._lost, {}
        items: list[RealtimeItem] = []
        for reason, paths in sorted(lost.items()):
            kept = ("/",) if "/" in paths else tuple(_outermost(list(paths)))
            items.append(EventsLost(kept, reason))
        return items

    def _watch_ignored(self, wd: int) -> None:
        """The kernel dropped watch ``wd``: a loss unless we removed it or its directory went."""
        deleted = wd in self._deleted_wds
        self._deleted_wds.discard(wd)
        with self._watches_lock:
            path = self.wd_to_path.pop(wd, None)
            if path is None or self.path_to_wd.get(path) != wd:
                return  # removed by us (moved away), or already replaced by a newer watch
            del self.path_to_wd[path]
        if deleted:
            return
        self.problems.tallies["watches_lost"] += 1
        log_event(
            logger,
            logging.WARNING,
            "realtime watch lost; the leader's next audit lists the directory",
            root=self.root,
            path=printable(path),
        )
        self.lose(path, "watch_lost")

    def _forget_subtree(self, path: str) -> None:
        """Stop watching a directory that moved away (its watches would report stale paths)."""
        with self._watches_lock:
            for watched in [p for p in self.path_to_wd if is_under(p, path)]:
                wd = self.path_to_wd.pop(watched)
                self.wd_to_path.pop(wd, None)
                self.inotify.rm_watch(wd)

    def watch_tree(self, stop: threading.Event) -> None:
        """Watch every directory, top down, each before it is listed (names only, no stat).

        Stops descending once the watch limit is reached: listing the rest would be I/O for
        nothing.
        """
        self._report_unwatched = False
        stack = ["/"]
        while stack and not stop.is_set():
            path = stack.pop()
            if not self.add_watch(path):
                if self.limit_reached:
                    break
                continue
            fd = open_dir(self._abs(path), path, self.problems)
            if fd < 0:
                continue
            try:
                with os.scandir(fd) as entries:
                    for entry in entries:
                        if entry.is_dir(follow_symlinks=False):
                            name = entry.name
                            if is_sendable_name(name):
                                stack.append(child_path(path, name))
            except OSError as exc:
                self.problems.failed(path, exc)
            finally:
                os.close(fd)
        self._report_unwatched = True
        self.flush_counters()

    def flush_counters(self) -> None:
        self.problems.flush()
        self.counters.set("watched_dirs", len(self.wd_to_path))

    # -- events ----------------------------------------------------------------------------

    def changes(self, stop: threading.Event) -> Iterator[list[RealtimeItem]]:
        """Yield realtime events until ``stop`` is set, then those already queued, and end.

        After the first event of a burst, more are collected while they keep coming within
        ``settle_s``, for at most ``max_delay_s``: a write's create/modify/close arrive together
        and become one row, while a lone change is sent at once.
        """
        while True:
            if stop.is_set():
                raw = self.inotify.read()  # drain: what happened before the stop is still sent
                if raw:
                    yield from self.resolve(raw, threading.Event())
                return
            if not self.inotify.wait(0.2):
                lost = self.take_lost()  # e.g. noted by another thread
                if lost:
                    yield lost
                continue
            raw = self.inotify.read()
            deadline = time.monotonic() + self.max_delay_s
            while len(raw) < MAX_EVENTS_PER_BURST:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.inotify.wait(min(self.settle_s, remaining)):
                    break
                raw.extend(self.inotify.read())
            if raw:
                yield from self.resolve(raw, stop)
                self.flush_counters()
            lost = self.take_lost()
            if lost:
                yield lost

    def resolve(self, raw: list[ino.RawEvent], stop: threading.Event) -> Iterator[list[RealtimeItem]]:
        """Turn one burst of kernel events into realtime events (see the module docstring)."""
        observed = now_ms()
        pending = self._collect(raw)
        if not pending:
            return
        self.problems.tallies["realtime_paths"] += len(pending)
        deletes: list[str] = []
        inserts: list[RowDict] = []
        updates: list[RowDict] = []
        new_dirs: list[tuple[str, os.stat_result]] = []
        for path, flags in pending.items():
            try:
                st = os.stat(self._abs(path), follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                deletes.append(path)
                continue
            except OSError as exc:
                self.problems.failed(path, exc)
                continue
            if flags & GONE:
                deletes.append(path)  # gone and back: the old node (and subtree) must go first
            is_dir = is_dir_mode(st.st_mode)
            row: RowDict = {
                "path": path,
                "is_dir": is_dir,
                "size": 0 if is_dir else st.st_size,
                "mtime": st.st_mtime,
            }
            written_here = flags & (WRITTEN | TIMES_SET) == WRITTEN
            if written_here and is_regular_mode(st.st_mode) and _mtime_from_write(st):
                row["local_write"] = True
            if is_dir and flags & (NEW_DIR | GONE):
                new_dirs.append((path, st))
            (inserts if flags & (CREATED | GONE) else updates).append(row)
        parents: dict[str, float | None] = {}
        events: list[OutgoingEvent] = []
        inserts.sort(key=lambda row: row["path"])  # parents before their children
        groups: list[tuple[Literal["delete", "insert", "update"], list[RowDict]]] = [
            ("delete", [{"path": path} for path in _outermost(deletes)]),
            ("insert", inserts),
            ("update", updates),
        ]
        for event_type, rows in groups:
            self._with_parents(rows, parents)
            for start in range(0, len(rows), self.batch_size):
                chunk = rows[start : start + self.batch_size]
                events.append(OutgoingEvent("realtime", event_type, chunk, observed))
        self.problems.tallies["realtime_rows"] += sum(len(event.rows) for event in events)
        if events:
            yield list[RealtimeItem](events)
        for path, st in new_dirs:
            for rows in walk_appeared(
                self.root,
                path,
                st,
                stop,
                self.batch_size,
                self.problems,
                before_listing=self.add_watch,
            ):
                self.problems.tallies["realtime_rows"] += len(rows)
                yield [OutgoingEvent("realtime", "insert", rows, now_ms())]

    def _collect(self, raw: list[ino.RawEvent]) -> dict[str, int]:
        """What happened to which path, in first-seen order."""
        pending: dict[str, int] = {}
        for event in raw:
            mask = event.mask
            if mask & ino.IN_Q_OVERFLOW:
                self.problems.tallies["overflows"] += 1
                log_event(
                    logger,
                    logging.WARNING,
                    "realtime events lost (inotify queue overflow); the leader lists the whole tree",
                    root=self.root,
                )
                self.lose("/", "overflow")
                continue
            if mask & ino.IN_IGNORED:
                self._watch_ignored(event.wd)
                continue
            parent = self.wd_to_path.get(event.wd)
            if parent is None:
                continue
            if not event.name:
                if mask & ino.IN_DELETE_SELF:
                    self._deleted_wds.add(event.wd)
                if mask & (ino.IN_DELETE_SELF | ino.IN_MOVE_SELF) and parent == "/":
                    log_event(logger, logging.ERROR, "the watched root was removed or moved", root=self.root)
                elif mask & ino.IN_ATTRIB:
                    pending[parent] = pending.get(parent, 0) | CHANGED
                continue
            name = decode_name(event.name)
            if name is None:
                self.problems.skip("invalid_utf8", child_path(parent, event.name.decode("utf-8", "replace")))
                continue
            path = child_path(parent, name)
            flags = pending.get(path, 0)
            if mask & (ino.IN_CREATE | ino.IN_MOVED_TO):
                flags |= CREATED | (NEW_DIR if mask & ino.IN_ISDIR else 0)
            if mask & (ino.IN_MODIFY | ino.IN_CLOSE_WRITE | ino.IN_ATTRIB):
                flags |= CHANGED
            if mask & (ino.IN_CREATE | ino.IN_MODIFY | ino.IN_CLOSE_WRITE) and not mask & ino.IN_ISDIR:
                flags |= WRITTEN
            if mask & ino.IN_ATTRIB:
                flags |= TIMES_SET
            elif mask & ino.IN_MODIFY:
                flags &= ~TIMES_SET
            if mask & (ino.IN_DELETE | ino.IN_MOVED_FROM):
                flags |= GONE
                if mask & ino.IN_MOVED_FROM and mask & ino.IN_ISDIR:
                    self._forget_subtree(path)
            pending[path] = flags
        return pending

    def _with_parents(self, rows: list[RowDict], cache: dict[str, float | None]) -> list[RowDict]:
        for row in rows:
            parent = parent_of(row["path"])
            if parent not in cache:
                try:
                    cache[parent] = os.stat(self._abs(parent), follow_symlinks=False).st_mtime
                except OSError:
                    cache[parent] = None
            mtime = cache[parent]
            if mtime is not None:
                row["parent_path"] = parent
                row["parent_mtime"] = mtime
        return rows

    def close(self) -> None:
        self.inotify.close()


def _outermost(paths: list[str]) -> list[str]:
    """Deleted paths without those inside another deleted directory (one delete per subtree)."""
    gone = set(paths)
    kept = []
    for path in sorted(gone):
        parent = parent_of(path)
        inside = False
        while parent != "/":
            if parent in gone:
                inside = True
                break
            parent = parent_of(parent)
        if not inside:
            kept.append(path)
    return kept


MTIME_SET_AFTER_WRITE_NS = 1_000_000
"""How far the ctime may run ahead of the mtime for the mtime still to be a write's (a write
stamps both with one clock reading; file systems with coarse timestamps still agree)."""


def _mtime_from_write(st: os.stat_result) -> bool:
    """Whether the mtime is the last data write's, not one set afterwards (``cp -p``, ``touch -d``)."""
    return st.st_ctime_ns - st.st_mtime_ns < MTIME_SET_AFTER_WRITE_NS

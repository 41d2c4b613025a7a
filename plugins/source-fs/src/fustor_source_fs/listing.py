"""The listing walk behind both scans: the snapshot lists every directory, the audit only those
that changed (plus the deep slice it is given).

Rows say which directories were *fully listed*, because Fusion deletes, at the end of a scan,
the nodes missing from every directory that was. When the walk starts listing a directory it
sends that directory's own row (``is_dir``, ``size: 0``, its mtime, and its parent's path and
mtime; the root's parent is null), then a row per file, each with ``parent_path``/
``parent_mtime`` = the listed directory and its mtime as seen before listing it, so Fusion can
tell a file deleted after the scan from a file the scan missed. Subdirectories are not sent as
entries: each gets its own row when the walk lists it (a directory that vanished before that
has no row, which is the truth).

A directory is *not* fully listed when it cannot be opened or listed, or when stat'ing any of
its entries fails with anything but ENOENT (EIO, ESTALE, EACCES, ...): it is sent (again,
after its first row if that went out already) with ``audit_skipped: true``, so Fusion infers
nothing about its missing children while the rows that were read still apply. Such a directory
is never recorded in the directory cache, so the next audit lists it again. A directory the
walk never got to (it was stopped) has no row at all.

The audit skips what has not changed: creating, deleting or renaming an entry changes its
directory's mtime, so a directory with the mtime recorded in the cache still holds the same
names. It is sent once with ``audit_skipped: true`` and not listed; its subdirectories,
remembered in the cache, are still visited (one ``lstat`` each), because a change deep down does
not touch the ancestors' mtimes. Rewriting a file in place changes no directory's mtime, which
is what the *deep* predicate is for: a directory it selects is listed (and every entry
re-stat'ed) even when unchanged.

A *relisting* (``start``: a ``fresh=true`` query's path) walks only the subtree at ``start``,
every directory listed; when ``start`` is not a directory (a file, or gone) the nearest existing
ancestor is listed alone (``recursive=False``): its subdirectories are then sent as
``audit_skipped`` rows, so Fusion keeps them (they were not listed) while it removes what the
listed directory no longer holds.

Only complete listings of directories whose mtime is older than ``racy_window_s`` when the walk
started are cached: an entry added in the same clock tick as the listing might not change the
mtime again.

This loop is the agent's hottest code (the snapshot of millions of files): it builds rows as
plain dicts, stats relative to an open directory descriptor and avoids per-entry calls.
"""

from __future__ import annotations

import errno
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any

from fustor_source_fs.dirs import UNREADABLE, is_dir_mode, list_names, open_dir
from fustor_source_fs.fresh_stat import synced_stat
from fustor_source_fs.paths import child_prefix, is_sendable_name, is_under, parent_of
from fustor_source_fs.problems import Problems

Row = dict[str, Any]
_Pending = tuple[str, float, int, str | None, float | None]
"""A directory still to visit: path, mtime, inode, parent path, parent mtime."""

_NO_SEARCH = (errno.EACCES, errno.EPERM)
"""Entry stat errors that mean every other entry of the directory fails the same way."""


def _listing_of(value: Any) -> tuple[float, Sequence[str]] | None:
    """A cache entry as ``(mtime, subdirectory names)``, or None when it is not one.

    The agent saves the cache and loads it after a restart (a tuple then comes back as a list);
    an entry of any other shape (a file edited by hand, another version) is treated as absent,
    so the directory is listed again rather than the walk failing.
    """
    if type(value) in (tuple, list) and len(value) == 2 and type(value[1]) in (tuple, list):
        mtime: Any = value[0]
        if type(mtime) is float:
            return mtime, value[1]
    return None


class ListingWalk:
    """One scan of the tree at ``root`` against ``dir_cache`` (updated as it goes).

    :param skip_unchanged: the audit (True) skips directories whose cached mtime is unchanged;
        the snapshot (False) lists every directory.
    :param deep: directories for which it returns True are listed even when unchanged.
    """

    def __init__(
        self,
        root: str,
        dir_cache: Any,
        problems: Problems,
        *,
        batch_size: int,
        racy_window_s: float = 2.0,
        skip_unchanged: bool = True,
        deep: Callable[[str], bool] | None = None,
        start: str = "/",
        recursive: bool = True,
        synced: bool = False,
    ) -> None:
        self.root = root
        self.start = start
        self.recursive = recursive
        self.stat: Callable[..., Any] = synced_stat if synced else os.stat
        """``synced``: every entry's attributes from the server, not the client's cache."""
        self.cache = dir_cache
        self.problems = problems
        self.batch_size = batch_size
        self.racy_window_s = racy_window_s
        self.skip_unchanged = skip_unchanged
        self.deep = deep
        self.rows: list[Row] = []
        self.stack: list[_Pending] = []
        self.visited: set[str] = set()
        self.started = time.time()

    def run(self, stop: threading.Event) -> Iterator[list[Row]]:
        """Rows in batches; when the walk completes, cache entries of vanished directories go."""
        first = self._first()
        if first is None:
            return
        self.stack.append(first)
        cache = self.cache
        deep = self.deep
        while self.stack:
            if stop.is_set():
                return
            pending = self.stack.pop()
            path = pending[0]
            self.visited.add(path)
            cached = _listing_of(cache.get(path)) if self.skip_unchanged else None
            if cached is not None and cached[0] == pending[1] and (deep is None or not deep(path)):
                self._skip_unchanged(pending, cached[1])
            elif not (yield from self._list(pending, stop)):
                return
            if len(self.rows) >= self.batch_size:
                yield self._take()
        if self.rows:
            yield self._take()
        if not self.recursive:
            return
        # list(): one C-level copy, safe even if another thread drops entries meanwhile
        start = self.start
        for stale in [path for path in list(cache) if path not in self.visited and is_under(path, start)]:
            cache.pop(stale, None)

    def _first(self) -> _Pending | None:
        """The directory the walk starts with: ``start``, or (not recursively) the nearest
        existing ancestor when ``start`` is not a directory."""
        path = self.start
        while True:
            try:
                st = os.lstat(self._abs(path))
            except (FileNotFoundError, NotADirectoryError):
                st = None
            except OSError as exc:
                self.problems.failed(path, exc)
                return None
            if st is not None and is_dir_mode(st.st_mode):
                break
            if path == "/":
                return None
            path, self.recursive = parent_of(path), False
        self.start = path
        if path == "/":
            return (path, st.st_mtime, st.st_ino, None, None)
        parent = parent_of(path)
        try:
            parent_mtime: float | None = os.lstat(self._abs(parent)).st_mtime
        except OSError:
            parent_mtime = None
        return (path, st.st_mtime, st.st_ino, parent, parent_mtime)

    def _take(self) -> list[Row]:
        rows, self.rows = self.rows, []
        return rows

    def _abs(self, path: str) -> str:
        return self.root if path == "/" else self.root + path

    @staticmethod
    def _dir_row(pending: _Pending, skipped: bool) -> Row:
        path, mtime, _, parent_path, parent_mtime = pending
        row: Row = {
            "path": path,
            "is_dir": True,
            "size": 0,
            "mtime": mtime,
            "parent_path": parent_path,
            "parent_mtime": parent_mtime,
        }
        if skipped:
            row["audit_skipped"] = True
        return row

    def _skip_unchanged(self, pending: _Pending, subdirs: Sequence[str]) -> None:
        path, mtime = pending[0], pending[1]
        self.rows.append(self._dir_row(pending, skipped=True))
        self.problems.tallies["dirs_skipped"] += 1
        prefix = child_prefix(path)
        for name in subdirs:
            if type(name) is not str:  # not an entry this source wrote: list it next time
                self.cache.pop(path, None)
                continue
            child = prefix + name
            try:
                st = os.stat(self.root + child, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                st = None
            except OSError as exc:
                # not visited: no row (nothing inferred below it) and its cache entry is
                # dropped at the end of the walk, so the next audit looks again
                self.problems.failed(child, exc)
                continue
            if st is None or not is_dir_mode(st.st_mode):
                # names changed under an unchanged mtime (coarse clock, NFS attribute cache):
                # forget the listing so the next audit reads the directory again
                self.cache.pop(path, None)
                continue
            self.stack.append((child, st.st_mtime, st.st_ino, path, mtime))

    def _list(self, pending: _Pending, stop: threading.Event) -> Generator[list[Row], None, bool]:
        """List one directory; False when ``stop`` ended the walk in the middle of it."""
        path, mtime, ino = pending[0], pending[1], pending[2]
        problems = self.problems
        tallies = problems.tallies
        self.cache.pop(path, None)
        fd = open_dir(self._abs(path), path, problems, ino)
        if fd < 0:
            if fd == UNREADABLE:
                self.rows.append(self._dir_row(pending, skipped=True))
            return True
        try:
            names = list_names(fd, path, problems)
            if names is None:
                self.rows.append(self._dir_row(pending, skipped=True))
                return True
            rows = self.rows
            rows.append(self._dir_row(pending, skipped=False))
            subdirs: list[str] = []
            stack = self.stack
            prefix = child_prefix(path)
            stat = self.stat
            batch_size = self.batch_size
            complete = True
            for name in names:
                if not name.isascii() and not is_sendable_name(name):
                    problems.skip("invalid_utf8", prefix + name)
                    continue
                try:
                    st = stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    tallies["vanished"] += 1
                    continue
                except OSError as exc:
                    problems.failed(prefix + name, exc)
                    complete = False
                    if exc.errno in _NO_SEARCH:
                        break  # no search permission: every other entry fails alike
                    continue
                if (st.st_mode & 0o170000) == 0o040000:
                    subdirs.append(name)
                    if self.recursive:
                        stack.append((prefix + name, st.st_mtime, st.st_ino, path, mtime))
                    else:  # named, not listed: Fusion keeps it and infers nothing below it
                        rows.append(self._dir_row((prefix + name, st.st_mtime, 0, path, mtime), skipped=True))
                    continue
                rows.append(
                    {
                        "path": prefix + name,
                        "size": st.st_size,
                        "mtime": st.st_mtime,
                        "parent_path": path,
                        "parent_mtime": mtime,
                    }
                )
                if len(rows) >= batch_size:
                    yield self._take()
                    if stop.is_set():
                        return False
                    rows = self.rows
            if not complete:
                self.rows.append(self._dir_row(pending, skipped=True))
                tallies["dirs_incomplete"] += 1
        finally:
            os.close(fd)
        tallies["dirs_listed"] += 1
        tallies["entries"] += len(names)
        if self.deep is not None and self.deep(path):
            tallies["dirs_deep_checked"] += 1
        if complete and self.started - mtime > self.racy_window_s:
            self.cache[path] = (mtime, tuple(subdirs))
        return True

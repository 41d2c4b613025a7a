"""The audit walk: list only directories whose mtime changed since the last look.

Creating, deleting or renaming an entry changes its directory's mtime, so a directory with the
mtime recorded in the cache still holds the same names: it is sent once with
``audit_skipped: true`` and not listed again — its subdirectories, remembered in the cache, are
still visited (one ``lstat`` each), because a change deep down does not touch the ancestors'
mtimes. A changed directory is listed in full: its own row, then a row per entry. Every row
carries ``parent_path``/``parent_mtime`` (the parent's mtime when it was looked at) so Fusion can
tell a file deleted after the scan from a file the scan missed.

A directory that cannot be listed (permission denied) is sent as ``audit_skipped`` too, so Fusion
never mistakes "could not look" for "is empty"; a directory that vanished is left out, which
is the truth.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

from fustor_source_fs.dirs import UNREADABLE, is_dir_mode, list_names, open_dir
from fustor_source_fs.paths import child_prefix, is_sendable_name
from fustor_source_fs.problems import Problems

Row = dict[str, Any]
_Pending = tuple[str, float, int, str | None, float | None]
"""A directory still to visit: path, mtime, inode, parent path, parent mtime."""


class AuditWalk:
    """One audit of the tree at ``root`` against ``dir_cache`` (updated as it goes)."""

    def __init__(
        self,
        root: str,
        dir_cache: Any,
        problems: Problems,
        *,
        batch_size: int,
        racy_window_s: float = 2.0,
    ) -> None:
        self.root = root
        self.cache = dir_cache
        self.problems = problems
        self.batch_size = batch_size
        self.racy_window_s = racy_window_s
        self.rows: list[Row] = []
        self.stack: list[_Pending] = []
        self.visited: set[str] = set()
        self.started = time.time()

    def run(self, stop: threading.Event) -> Iterator[list[Row]]:
        """Rows in batches; when the walk completes, cache entries of vanished directories go."""
        try:
            root_stat = os.lstat(self.root)
        except OSError as exc:
            self.problems.skip("root_unreadable", "/", exc.strerror)
            return
        self.stack.append(("/", root_stat.st_mtime, root_stat.st_ino, None, None))
        while self.stack:
            if stop.is_set():
                return
            pending = self.stack.pop()
            self.visited.add(pending[0])
            cached = self.cache.get(pending[0])
            if cached is not None and cached[0] == pending[1]:
                self._skip_unchanged(pending, cached[1])
            else:
                yield from self._list_changed(pending)
            if len(self.rows) >= self.batch_size:
                yield self._take()
        if self.rows:
            yield self._take()
        for stale in [path for path in self.cache if path not in self.visited]:
            del self.cache[stale]

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

    def _skip_unchanged(self, pending: _Pending, subdirs: tuple[str, ...]) -> None:
        path, mtime = pending[0], pending[1]
        self.rows.append(self._dir_row(pending, skipped=True))
        self.problems.tallies["dirs_skipped"] += 1
        prefix = child_prefix(path)
        for name in subdirs:
            child = prefix + name
            try:
                st = os.stat(self.root + child, follow_symlinks=False)
            except (FileNotFoundError, NotADirectoryError):
                st = None
            except OSError as exc:
                self.problems.skip("io_error", child, exc.strerror)
                continue
            if st is None or not is_dir_mode(st.st_mode):
                # names changed under an unchanged mtime (coarse clock, NFS attribute cache):
                # forget the listing so the next audit reads the directory again
                self.cache.pop(path, None)
                continue
            self.stack.append((child, st.st_mtime, st.st_ino, path, mtime))

    def _list_changed(self, pending: _Pending) -> Iterator[list[Row]]:
        path, mtime, ino = pending[0], pending[1], pending[2]
        problems = self.problems
        tallies = problems.tallies
        self.cache.pop(path, None)
        fd = open_dir(self._abs(path), path, problems, ino)
        if fd < 0:
            if fd == UNREADABLE:
                self.rows.append(self._dir_row(pending, skipped=True))
            return
        try:
            names = list_names(fd, path, problems)
            if names is None:
                self.rows.append(self._dir_row(pending, skipped=True))
                return
            subdirs: list[str] = []
            prefix = child_prefix(path)
            stat = os.stat
            rows = self.rows
            dir_row_sent = False
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
                except PermissionError as exc:
                    problems.skip("permission_denied", prefix + name, exc.strerror)
                    if dir_row_sent:
                        continue
                    # entries cannot be stat'ed (no search permission): as good as unlistable
                    rows.append(self._dir_row(pending, skipped=True))
                    return
                except OSError as exc:
                    problems.skip("io_error", prefix + name, exc.strerror)
                    complete = False
                    continue
                if not dir_row_sent:
                    rows.append(self._dir_row(pending, skipped=False))
                    dir_row_sent = True
                child = prefix + name
                if is_dir_mode(st.st_mode):
                    self.stack.append((child, st.st_mtime, st.st_ino, path, mtime))
                    subdirs.append(name)
                    continue
                rows.append(
                    {
                        "path": child,
                        "size": st.st_size,
                        "mtime": st.st_mtime,
                        "parent_path": path,
                        "parent_mtime": mtime,
                    }
                )
                if len(rows) >= self.batch_size:
                    yield self._take()
                    rows = self.rows
            if not dir_row_sent:
                self.rows.append(self._dir_row(pending, skipped=False))
        finally:
            os.close(fd)
        tallies["dirs_listed"] += 1
        tallies["entries"] += len(names)
        if complete and self.started - mtime > self.racy_window_s:
            self.cache[path] = (mtime, tuple(subdirs))

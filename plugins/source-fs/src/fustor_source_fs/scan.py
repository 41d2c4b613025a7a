"""The full walk: every entry below a directory, stat'ed once, in large batches.

Used for the snapshot (the whole tree) and by realtime for a directory that appeared (created
or moved in): its existing contents must be sent too. Iterative (an explicit stack, so depth is
never a recursion problem), one ``listdir`` + one ``fstatat`` per entry, rows built as plain
dicts — this loop is the agent's hottest code, so it avoids per-entry function calls.

Directories are sent with ``size: 0`` (their st_size says nothing about their contents);
symlinks are sent as what they are (a non-directory entry with the link's own stat) and never
followed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from fustor_source_fs.dirs import list_names, open_dir
from fustor_source_fs.paths import child_prefix, is_sendable_name
from fustor_source_fs.problems import Problems

Row = dict[str, Any]


def walk_rows(
    root: str,
    start: str,
    start_stat: os.stat_result,
    stop: threading.Event,
    batch_size: int,
    problems: Problems,
    *,
    dir_cache: Any | None = None,
    racy_window_s: float = 2.0,
    with_parent: bool = False,
    before_listing: Callable[[str], object] | None = None,
) -> Iterator[list[Row]]:
    """Rows for every entry below ``start`` (not ``start`` itself), batched.

    :param root: absolute path of the watched root; ``start`` is a datastore path below it.
    :param dir_cache: when given, each fully listed directory is recorded as
        ``path -> (mtime, subdirectory names)`` for later audits (unless modified within
        ``racy_window_s``, when the listing might already be stale).
    :param with_parent: add ``parent_path``/``parent_mtime`` to every row (realtime rows).
    :param before_listing: called with a directory's path before it is listed (realtime adds
        its watch there, so nothing created after the listing is missed).
    """
    stat = os.stat
    now = time.time()
    stack: list[tuple[str, float, int]] = [(start, start_stat.st_mtime, start_stat.st_ino)]
    rows: list[Row] = []
    tallies = problems.tallies
    while stack:
        if stop.is_set():
            break
        path, mtime, ino = stack.pop()
        if before_listing is not None:
            before_listing(path)
        fd = open_dir(root + path if path != "/" else root, path, problems, ino)
        if fd < 0:
            continue
        try:
            names = list_names(fd, path, problems)
            if names is None:
                continue
            prefix = child_prefix(path)
            subdirs: list[str] = []
            complete = True
            tallies["entries"] += len(names)
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
                    problems.skip("permission_denied", path, exc.strerror)
                    complete = False
                    break
                except OSError as exc:
                    problems.skip("io_error", prefix + name, exc.strerror)
                    complete = False
                    continue
                if (st.st_mode & 0o170000) == 0o040000:
                    child = prefix + name
                    row = {"path": child, "is_dir": True, "size": 0, "mtime": st.st_mtime}
                    stack.append((child, st.st_mtime, st.st_ino))
                    subdirs.append(name)
                else:
                    row = {"path": prefix + name, "size": st.st_size, "mtime": st.st_mtime}
                if with_parent:
                    row["parent_path"] = path
                    row["parent_mtime"] = mtime
                rows.append(row)
                if len(rows) >= batch_size:
                    yield rows
                    rows = []
                    if stop.is_set():
                        return
            if dir_cache is not None and complete and now - mtime > racy_window_s:
                dir_cache[path] = (mtime, tuple(subdirs))
        finally:
            os.close(fd)
    if rows:
        yield rows

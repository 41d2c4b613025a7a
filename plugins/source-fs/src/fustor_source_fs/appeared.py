"""Realtime's walk of a directory that appeared (created or moved in): its existing contents.

A directory moved in arrives with everything inside it, and entries can be created in a new
directory before its watch is in place; both are only found by listing it. Each directory gets
its watch (``before_listing``) *before* it is listed, so nothing created after the listing is
missed. Iterative (an explicit stack, so depth is never a recursion problem), one ``listdir`` +
one ``fstatat`` per entry, rows built as plain dicts.

Rows are realtime inserts with ``parent_path``/``parent_mtime``; they only add what exists (a
realtime walk never implies a deletion), so a failed stat just leaves the entry out (counted by
errno name). They never carry ``local_write``: what was moved in keeps old mtimes, which say
nothing about the storage's clock. Directories are sent with ``size: 0``; symlinks are sent as
what they are and never followed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

from fustor_source_fs.dirs import list_names, open_dir
from fustor_source_fs.paths import child_prefix, is_sendable_name
from fustor_source_fs.problems import Problems

Row = dict[str, Any]


def walk_appeared(
    root: str,
    start: str,
    start_stat: os.stat_result,
    stop: threading.Event,
    batch_size: int,
    problems: Problems,
    *,
    before_listing: Callable[[str], object] | None = None,
) -> Iterator[list[Row]]:
    """Rows for every entry below ``start`` (not ``start`` itself), batched.

    :param root: absolute path of the watched root; ``start`` is a datastore path below it.
    :param before_listing: called with a directory's path before it is listed (realtime adds
        its watch there).
    """
    stat = os.stat
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
                except OSError as exc:
                    problems.failed(prefix + name, exc)
                    continue
                if (st.st_mode & 0o170000) == 0o040000:
                    child = prefix + name
                    row = {"path": child, "is_dir": True, "size": 0, "mtime": st.st_mtime}
                    stack.append((child, st.st_mtime, st.st_ino))
                else:
                    row = {"path": prefix + name, "size": st.st_size, "mtime": st.st_mtime}
                row["parent_path"] = path
                row["parent_mtime"] = mtime
                rows.append(row)
                if len(rows) >= batch_size:
                    yield rows
                    rows = []
                    if stop.is_set():
                        return
        finally:
            os.close(fd)
    if rows:
        yield rows

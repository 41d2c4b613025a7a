"""Writing a run of sibling files: the bulk half of the upsert hot path.

Batches arrive grouped by directory, so :meth:`MemoryTreeStore.upsert` collects consecutive file
rows that share a parent into a *run* (three parallel lists: names, sizes, mtimes) and hands the
run over here once. The two common shapes are written with one C-level ``dict.update`` and one
walk up the ancestors:

* every name new — a first snapshot of a directory;
* every name an existing file, listed once — a re-snapshot, realtime updates.

Anything else (a name that is a subdirectory being replaced by a file, a mix of new and existing
names, a name listed twice) is written row by row in order, with the same result.
"""

from __future__ import annotations

import struct
from itertools import repeat
from operator import itemgetter
from typing import cast

from fustor_storage_memory.tree import Dir, intern, pack_file, propagate, remove_dir, unpack_file

_FIRST = itemgetter(0)
_size_of = struct.Struct("<q").unpack_from
"""Reads only the size field of a file record."""
_stamp_of = struct.Struct("<16xd").unpack_from
"""Reads only the confirmed_at field of a file record."""


def write_run(
    d: Dir,
    names: list[str],
    sizes: list[int],
    mtimes: list[float],
    stamp: float,
    keep_stamp: bool,
) -> bool:
    """Write files ``names[k]`` (``sizes[k]``, ``mtimes[k]``) into directory ``d``.

    New files get ``stamp`` as confirmed_at; existing ones keep theirs when ``keep_stamp``.
    Returns True when a subdirectory of ``d`` was replaced by a file (callers drop any cached
    directory below ``d``). A value that cannot be packed (a size of 2**63 or more) raises
    ``struct.error`` with the counts still matching what was written.
    """
    files = d.files
    dirs = d.dirs
    if dirs is None or dirs.keys().isdisjoint(names):
        if not files or files.keys().isdisjoint(names):
            records = list(map(pack_file, sizes, mtimes, repeat(stamp)))  # a bad value changes nothing
            before = len(files)
            files.update(zip(map(intern, names), records))  # noqa: B905 - same length by construction
            added = len(files) - before
            if added == len(names):
                nbytes = sum(sizes)
            else:  # a name listed twice: it counts once, with its last row's size
                nbytes = sum(_size_of(files[name])[0] for name in set(names))
            propagate(d, added, 0, nbytes)
            return False
        found = list(map(files.get, names))
        if None not in found and len(set(names)) == len(names):
            olds = cast(list[bytes], found)
            old_bytes = sum(map(_FIRST, map(_size_of, olds)))
            stamps = map(_FIRST, map(_stamp_of, olds)) if keep_stamp else repeat(stamp)
            records = list(map(pack_file, sizes, mtimes, stamps))
            files.update(zip(names, records))  # noqa: B905 - same length by construction
            propagate(d, 0, 0, sum(sizes) - old_bytes)
            return False
    return _write_one_by_one(d, names, sizes, mtimes, stamp, keep_stamp)


def _write_one_by_one(
    d: Dir,
    names: list[str],
    sizes: list[int],
    mtimes: list[float],
    stamp: float,
    keep_stamp: bool,
) -> bool:
    """The general case of :func:`write_run`, row by row in order."""
    files = d.files
    replaced_dir = False
    add_files = 0
    add_bytes = 0
    try:
        for name, size, mtime in zip(names, sizes, mtimes, strict=True):
            old = files.get(name)
            if old is None:
                record = pack_file(size, mtime, stamp)
                dirs = d.dirs
                if dirs is not None and name in dirs:
                    # a directory becomes a file: its subtree goes, its counts leave the ancestors
                    remove_dir(d, name)
                    replaced_dir = True
                files[intern(name)] = record
                add_files += 1
                add_bytes += size
            else:
                old_size, _, old_stamp = unpack_file(old)
                files[name] = pack_file(size, mtime, old_stamp if keep_stamp else stamp)
                add_bytes += size - old_size
    finally:  # counts stay true to what was written even if a row fails to pack
        propagate(d, add_files, 0, add_bytes)
    return replaced_dir

"""The entries of one directory in a :class:`~fustor_core.pathlist.PathList`.

A directory's entries are kept by *name* — the same interned ``str`` the tree store holds, so a
name costs the list one reference — sorted, in chunks of at most :data:`CHUNK_MAX` names, each
chunk with one packed column per record field (:mod:`fustor_core.pathlist_records`). Sorted
names give membership by ``bisect`` (in C), paging in name order without a sort, and a whole
directory in one place for subtree removal; chunks keep an insertion into a directory of a
million entries from moving the whole directory's memory.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from itertools import compress, repeat
from operator import eq
from typing import Any

from fustor_core.pathlist_records import Column, RecordLayout, permuted

CHUNK_MAX = 2048
"""A chunk reaching this many names is split in two."""


class Chunk:
    """A sorted run of a directory's names with their record columns."""

    __slots__ = ("alive", "cols", "directory", "names", "ordered", "sched", "ticket")

    def __init__(
        self, directory: Directory, names: tuple[str, ...], cols: list[Column], *, ordered: bool = True
    ) -> None:
        self.directory = directory
        self.names = names
        """A tuple, not a list: a tuple of strings drops out of the garbage collector's tracking,
        so a full collection does not visit every listed name (a million, after a fresh upload)."""
        self.cols = cols
        self.ordered = ordered
        """False while the names are as a fresh run brought them (only a directory's only chunk)."""
        self.sched = math.inf
        """Key of this chunk's entry in the list's age heap: never above the oldest age in it."""
        self.ticket = -1
        """Which heap entry is this chunk's current one (older entries for it are stale)."""
        self.alive = True


class Directory:
    """The listed children of one directory, by name."""

    __slots__ = ("chunks", "firsts", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.chunks: list[Chunk] = []
        self.firsts: list[str] = []
        """The first name of each chunk, to find a name's chunk with ``bisect``."""

    def child(self, name: str) -> str:
        """The path of entry ``name`` (the root's own entry has the empty name)."""
        path = self.path
        return "/" + name if path == "/" else f"{path}/{name}"

    def locate(self, name: str) -> tuple[int, int, bool]:
        """(chunk index, position, found) of ``name``; the position is where it would go."""
        chunks = self.chunks
        if not chunks[0].ordered:
            self.order()
        ci = 0 if len(chunks) == 1 else max(bisect_right(self.firsts, name) - 1, 0)
        names = chunks[ci].names
        i = bisect_left(names, name)
        return ci, i, i < len(names) and names[i] == name

    def find_many(self, names: list[str]) -> list[tuple[int, list[int], list[int]]]:
        """Where the listed ones among ``names`` are: for each chunk holding some, (chunk index,
        their positions in it, their indices in ``names``), by chunk index. A directory of one
        chunk (up to 2,048 entries) is searched with C-level ``map``s, no Python step per name."""
        if not self.chunks[0].ordered:
            self.order()
        if len(self.chunks) == 1:
            listed = self.chunks[0].names
            positions = list(map(bisect_left, repeat(listed), names))
            padded = [*listed, None]
            hits = list(map(eq, map(padded.__getitem__, positions), names))
            if not any(hits):
                return []
            return [(0, list(compress(positions, hits)), list(compress(range(len(names)), hits)))]
        found: dict[int, tuple[list[int], list[int]]] = {}
        for j, name in enumerate(names):
            ci, i, hit = self.locate(name)
            if hit:
                places, indices = found.setdefault(ci, ([], []))
                places.append(i)
                indices.append(j)
        return [(ci, *found[ci]) for ci in sorted(found)]

    def order(self) -> None:
        """Sort a chunk left as a fresh run brought it (names and columns alike)."""
        chunk = self.chunks[0]
        if chunk.ordered:
            return
        names = chunk.names
        order = sorted(range(len(names)), key=names.__getitem__)
        chunk.names = tuple(map(names.__getitem__, order))
        chunk.cols = [permuted(col, order) for col in chunk.cols]
        chunk.ordered = True
        self.firsts[0] = chunk.names[0]

    def fill(
        self, layout: RecordLayout, names: list[str], cols: list[list[Any] | Any], *, ordered: bool = True
    ) -> list[Chunk]:
        """Fill an empty directory with ``names`` (distinct; sorted unless ``ordered`` is False,
        which a run shorter than a chunk may be) and their column values (each a list aligned
        with ``names`` or one value for all); returns the new chunks. Only a run that fits
        one chunk is kept unsorted (until :meth:`order`)."""
        count = len(names)
        if not ordered and count >= CHUNK_MAX:
            order = sorted(range(count), key=names.__getitem__)
            names = list(map(names.__getitem__, order))
            cols = [
                list(map(values.__getitem__, order)) if isinstance(values, list) else values
                for values in cols
            ]
            ordered = True
        size = CHUNK_MAX // 2 if count >= CHUNK_MAX else count
        for start in range(0, count, size):
            stop = min(start + size, count)
            chunk_cols = [
                layout.new_column(k, values[start:stop])
                if isinstance(values, list)
                else layout.repeat_column(k, values, stop - start)
                for k, values in enumerate(cols)
            ]
            self.chunks.append(Chunk(self, tuple(names[start:stop]), chunk_cols, ordered=ordered))
            self.firsts.append(names[start])
        return self.chunks

    def insert(self, ci: int, i: int, name: str, values: Sequence[Any]) -> Chunk | None:
        """Insert ``name`` at position ``i`` of chunk ``ci``; returns the chunk split off, if any."""
        chunk = self.chunks[ci]
        names = chunk.names
        chunk.names = (*names[:i], name, *names[i:])
        for col, value in zip(chunk.cols, values, strict=True):
            col.insert(i, value)
        if i == 0:
            self.firsts[ci] = name
        if len(chunk.names) < CHUNK_MAX:
            return None
        half = CHUNK_MAX // 2
        tail = Chunk(self, chunk.names[half:], [col[half:] for col in chunk.cols])
        chunk.names = chunk.names[:half]
        for col in chunk.cols:
            del col[half:]
        self.chunks.insert(ci + 1, tail)
        self.firsts.insert(ci + 1, tail.names[0])
        return tail

    def remove(self, ci: int, i: int) -> None:
        """Remove the entry at position ``i`` of chunk ``ci`` (dropping the chunk if emptied)."""
        chunk = self.chunks[ci]
        names = chunk.names
        chunk.names = names[:i] + names[i + 1 :]
        for col in chunk.cols:
            del col[i]
        self._settle(ci)

    def remove_positions(self, layout: RecordLayout, ci: int, positions: set[int]) -> None:
        """Remove the entries at ``positions`` of chunk ``ci``: one by one when they are few,
        else in one filtering pass over the chunk."""
        chunk = self.chunks[ci]
        if len(positions) > 8:
            mask = [True] * len(chunk.names)
            for i in positions:
                mask[i] = False
            self.keep(layout, ci, mask)
            return
        names, cols = list(chunk.names), chunk.cols
        for i in sorted(positions, reverse=True):
            del names[i]
            for col in cols:
                del col[i]
        chunk.names = tuple(names)
        self._settle(ci)

    def keep(self, layout: RecordLayout, ci: int, mask: list[bool]) -> int:
        """Keep only the entries of chunk ``ci`` whose ``mask`` is true; returns how many went."""
        chunk = self.chunks[ci]
        before = len(chunk.names)
        chunk.names = tuple(compress(chunk.names, mask))
        removed = before - len(chunk.names)
        if removed:
            chunk.cols = [layout.new_column(k, compress(col, mask)) for k, col in enumerate(chunk.cols)]
            self._settle(ci)
        return removed

    def drop(self) -> int:
        """Empty the directory; returns how many entries it held."""
        count = 0
        for chunk in self.chunks:
            chunk.alive = False
            count += len(chunk.names)
        self.chunks = []
        self.firsts = []
        return count

    def _settle(self, ci: int) -> None:
        """After removals in chunk ``ci``: drop it if empty, else keep its first name current."""
        chunk = self.chunks[ci]
        if chunk.names:
            self.firsts[ci] = chunk.names[0]
            return
        chunk.alive = False
        del self.chunks[ci]
        del self.firsts[ci]

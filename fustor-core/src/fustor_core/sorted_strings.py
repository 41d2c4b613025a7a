"""A sorted set of strings kept in chunks: ordered iteration from any point in O(log n).

A plain sorted list costs a memmove of the whole list per insertion (a million directory paths:
8 MB per new directory); a list of bounded chunks — the layout of a B-tree's leaves — keeps every
insertion and removal to O(log n + chunk) while ``bisect`` still does the searching in C.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator

CHUNK = 1024
"""Chunks are split in two when they reach twice this size."""


class SortedStrings:
    """Strings in ascending order, each at most once."""

    __slots__ = ("_chunks", "_lasts", "_len")

    def __init__(self) -> None:
        self._chunks: list[list[str]] = []
        self._lasts: list[str] = []
        """The last (largest) string of each chunk, to find a string's chunk with ``bisect``."""
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __contains__(self, value: str) -> bool:
        lasts = self._lasts
        ci = bisect_left(lasts, value)
        if ci == len(lasts):
            return False
        chunk = self._chunks[ci]
        i = bisect_left(chunk, value)
        return i < len(chunk) and chunk[i] == value

    def __iter__(self) -> Iterator[str]:
        for chunk in self._chunks:
            yield from chunk

    def add(self, value: str) -> None:
        """Insert ``value`` (nothing happens if it is present)."""
        chunks, lasts = self._chunks, self._lasts
        if not chunks:
            chunks.append([value])
            lasts.append(value)
            self._len = 1
            return
        ci = bisect_left(lasts, value)
        if ci == len(lasts):
            ci -= 1
        chunk = chunks[ci]
        i = bisect_left(chunk, value)
        if i < len(chunk) and chunk[i] == value:
            return
        if i == len(chunk):
            chunk.append(value)
            lasts[ci] = value
        else:
            chunk.insert(i, value)
        self._len += 1
        if len(chunk) >= 2 * CHUNK:
            chunks.insert(ci + 1, chunk[CHUNK:])
            del chunk[CHUNK:]
            lasts.insert(ci, chunk[-1])

    def discard(self, value: str) -> bool:
        """Remove ``value``; False if it was not present."""
        lasts = self._lasts
        ci = bisect_left(lasts, value)
        if ci == len(lasts):
            return False
        chunk = self._chunks[ci]
        i = bisect_left(chunk, value)
        if i == len(chunk) or chunk[i] != value:
            return False
        del chunk[i]
        self._len -= 1
        if not chunk:
            del self._chunks[ci]
            del lasts[ci]
        elif i == len(chunk):
            lasts[ci] = chunk[-1]
        return True

    def clear(self) -> None:
        self._chunks.clear()
        self._lasts.clear()
        self._len = 0

    def iter_from(self, start: str) -> Iterator[str]:
        """The strings >= ``start``, in order (do not change the set while iterating)."""
        lasts = self._lasts
        ci = bisect_left(lasts, start)
        chunks = self._chunks
        if ci == len(chunks):
            return
        chunk = chunks[ci]
        yield from chunk[bisect_left(chunk, start) :]
        for chunk in chunks[ci + 1 :]:
            yield from chunk

    def between(self, low: str, high: str) -> list[str]:
        """The strings ``s`` with ``low <= s < high``, in order."""
        found: list[str] = []
        for value in self.iter_from(low):
            if value >= high:
                break
            found.append(value)
        return found

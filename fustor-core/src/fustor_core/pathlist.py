"""An ordered-by-path registry of flagged paths, shared by the list-keeping merge rules.

Suspects, tombstones and blind-spot lists are all "path -> a little record" maps that must be
cleared for a whole subtree when a directory goes away, and paged by path in query answers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any

from fustor_core.arbitration import is_under, parent_of


class PathList:
    """A dict of path -> record with subtree removal and cursor paging by path."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, path: object) -> bool:
        return path in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def get(self, path: str) -> dict[str, Any] | None:
        """The record for ``path``, if listed."""
        return self._entries.get(path)

    def put(self, path: str, **record: Any) -> None:
        """List ``path`` (replacing any earlier record)."""
        self._entries[path] = record

    def discard(self, path: str) -> dict[str, Any] | None:
        """Unlist ``path``; returns its record if it was listed."""
        return self._entries.pop(path, None)

    def discard_under(self, prefix: str) -> int:
        """Unlist ``prefix`` and everything below it; returns how many were removed."""
        if not self._entries:
            return 0
        doomed = [p for p in self._entries if is_under(p, prefix)]
        for path in doomed:
            del self._entries[path]
        return len(doomed)

    def discard_under_any(self, prefixes: Collection[str]) -> None:
        """Unlist every path at or below any of ``prefixes`` in one pass over the list (a batch of
        realtime deletes must not cost one pass per deleted path)."""
        if not self._entries or not prefixes:
            return
        roots = set(prefixes)
        if "/" in roots:
            self.clear()
            return
        doomed = [path for path in self._entries if _has_ancestor_in(path, roots)]
        for path in doomed:
            self.discard(path)

    def clear(self) -> None:
        """Unlist everything."""
        self._entries.clear()

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """All (path, record) pairs, in insertion order."""
        return iter(list(self._entries.items()))

    def page(self, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Up to ``limit`` entries with path > ``after``, sorted by path, each with its path."""
        paths = sorted(p for p in self._entries if after is None or p > after)[:limit]
        return [{"path": p, **self._entries[p]} for p in paths]


def _has_ancestor_in(path: str, roots: set[str]) -> bool:
    """True when ``path`` or one of its ancestors is in ``roots``."""
    while path != "/":
        if path in roots:
            return True
        path = parent_of(path)
    return False

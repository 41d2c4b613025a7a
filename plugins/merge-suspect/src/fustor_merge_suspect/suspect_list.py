"""The suspect list: a :class:`~fustor_core.pathlist.PathList` that also knows which entry
expires next.

Ticks run every few seconds and must not walk every suspect each time, so each ``put`` also
pushes ``(expires_at, path)`` on a heap. Entries are removed lazily: a heap item counts only while
the listed record still carries that expiry, so other plugins may edit the list through the plain
PathList API (``discard``, ``discard_under``) without telling the heap.
"""

from __future__ import annotations

import heapq
from typing import Any

from fustor_core.pathlist import PathList


class SuspectList(PathList):
    """``path -> {mtime, marked_at, expires_at, reason}`` with the next expiries at hand."""

    __slots__ = ("_expiries",)

    def __init__(self) -> None:
        super().__init__()
        self._expiries: list[tuple[float, str]] = []

    def put(self, path: str, **record: Any) -> None:
        super().put(path, **record)
        expires_at = record.get("expires_at")
        if expires_at is not None:
            heapq.heappush(self._expiries, (expires_at, path))
            if len(self._expiries) > 2 * len(self) + 1024:
                self._rebuild_expiries()

    def clear(self) -> None:
        super().clear()
        self._expiries.clear()

    def pop_expired(self, now: float) -> list[str]:
        """Paths whose TTL has passed (``expires_at <= now``), earliest first, each once.

        They stay listed: the caller decides whether each one is released or renewed.
        """
        due: list[str] = []
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires_at, path = heapq.heappop(heap)
            record = self.get(path)
            if record is not None and record.get("expires_at") == expires_at:
                due.append(path)
        return due

    def next_to_expire(self, limit: int) -> list[str]:
        """Up to ``limit`` listed paths, earliest expiry first."""
        if limit <= 0:
            return []
        by_expiry = ((record["expires_at"], path) for path, record in self.items())
        return [path for _, path in heapq.nsmallest(limit, by_expiry)]

    def _rebuild_expiries(self) -> None:
        self._expiries = [(record["expires_at"], path) for path, record in self.items()]
        heapq.heapify(self._expiries)

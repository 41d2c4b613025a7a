"""Thread-safe monotonic counters: the source works in several threads, the status reads them."""

from __future__ import annotations

import threading
from collections import Counter


class Counters:
    """Named counters; walks add their local tallies in bulk, so the lock is taken rarely."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._values[name] += n

    def merge(self, tallies: Counter[str]) -> None:
        """Add a walk's local tallies and clear them."""
        if not tallies:
            return
        with self._lock:
            self._values.update(tallies)
        tallies.clear()

    def set(self, name: str, value: int) -> None:
        with self._lock:
            self._values[name] = value

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._values)

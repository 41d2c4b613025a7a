"""Throttling of failed logins, per user name and per client address (sliding window).

Kept in memory: it protects one Registry process against online guessing. Behind a load balancer
with several Registry processes the effective limit multiplies by their number, which still
caps guessing far below anything useful against argon2 hashes.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED_SUBJECTS = 10_000
"""Above this many tracked names/addresses, expired entries are swept (bounded memory)."""


class LoginThrottle:
    def __init__(
        self, max_failures: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *subjects: str) -> float:
        """Seconds until any of ``subjects`` may try again; 0 when none is throttled."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for subject in subjects:
                stamps = self._recent(subject, now)
                if len(stamps) >= self.max_failures:
                    wait = max(wait, stamps[0] + self.window_s - now)
        return wait

    def record_failure(self, *subjects: str) -> None:
        now = self._clock()
        with self._lock:
            for subject in subjects:
                stamps = self._recent(subject, now)
                stamps.append(now)
                while len(stamps) > self.max_failures:
                    stamps.popleft()
                self._failures[subject] = stamps
            if len(self._failures) > MAX_TRACKED_SUBJECTS:
                for stale in list(self._failures):
                    self._recent(stale, now)

    def reset(self, subject: str) -> None:
        with self._lock:
            self._failures.pop(subject, None)

    def _recent(self, subject: str, now: float) -> deque[float]:
        stamps = self._failures.get(subject, deque())
        while stamps and stamps[0] <= now - self.window_s:
            stamps.popleft()
        if not stamps:
            self._failures.pop(subject, None)
        return stamps

"""What a walk skipped and why: counted always, logged for the first few, summarised at the end.

A tree of millions of entries can hold thousands of unreadable directories; one log line each
would bury everything else, so a walk logs the first ``limit`` problems and then only counts.
"""

from __future__ import annotations

import logging
from collections import Counter

from fustor_core.logs import log_event
from fustor_source_fs.counters import Counters

logger = logging.getLogger(__name__)


def printable(path: str) -> str:
    """``path`` safe to log even when it holds undecodable bytes (as surrogate escapes)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


class Problems:
    """Skipped entries of one walk (``snapshot``, ``audit``, ``realtime``, ...)."""

    def __init__(self, walk: str, counters: Counters, limit: int = 20) -> None:
        self.walk = walk
        self.counters = counters
        self.limit = limit
        self.tallies: Counter[str] = Counter()
        self._logged = 0

    def skip(self, reason: str, path: str, error: BaseException | str | None = None) -> None:
        """Count one skipped entry; log it while under the limit."""
        self.tallies[reason] += 1
        if self._logged < self.limit:
            self._logged += 1
            log_event(
                logger,
                logging.WARNING,
                "entry skipped",
                walk=self.walk,
                reason=reason,
                path=printable(path),
                error=error if error is not None else "-",
            )

    def flush(self) -> dict[str, int]:
        """Hand the tallies to the source's counters; returns them for the walk's summary."""
        summary = dict(self.tallies)
        self.counters.merge(self.tallies)
        return summary

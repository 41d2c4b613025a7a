"""What a walk skipped and why: counted always, logged for the first few, summarised at the end.

A tree of millions of entries can hold thousands of unreadable directories; one log line each
would bury everything else, so a walk logs the first ``limit`` problems and then only counts.

Two kinds of tallies: ``tallies`` are the source's counters (progress such as ``entries``, and
coarse skip reasons such as ``permission_denied``); ``stat_errors`` count every failed stat or
listing by the errno's name (``EIO``, ``ESTALE``, ``EACCES``, ...), which the agent shows per pipe
— on NFS these are everyday events, and each one is a directory Fusion was told is *not* fully
listed.
"""

from __future__ import annotations

import errno
import logging
from collections import Counter

from fustor_core.logs import log_event
from fustor_source_fs.counters import Counters

logger = logging.getLogger(__name__)


def printable(path: str) -> str:
    """``path`` safe to log even when it holds undecodable bytes (as surrogate escapes)."""
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def errno_name(exc: OSError) -> str:
    """``EIO``, ``ESTALE``, ... for ``exc`` (``OSError`` when it carries no errno)."""
    code = exc.errno
    return errno.errorcode.get(code, f"E{code}") if code is not None else "OSError"


def coarse_reason(exc: OSError) -> str:
    """The counter an error is tallied under beside its errno name."""
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission_denied"
    if exc.errno == errno.ENAMETOOLONG:
        return "name_too_long"
    return "io_error"


class Problems:
    """Skipped entries of one walk (``snapshot``, ``audit``, ``realtime``, ...)."""

    def __init__(
        self, walk: str, counters: Counters, stat_errors: Counters | None = None, limit: int = 20
    ) -> None:
        self.walk = walk
        self.counters = counters
        self.stat_error_counters = stat_errors
        self.limit = limit
        self.tallies: Counter[str] = Counter()
        self.stat_errors: Counter[str] = Counter()
        self._logged = 0

    def skip(self, reason: str, path: str, error: BaseException | str | None = None) -> None:
        """Count one skipped entry; log it while under the limit."""
        self.tallies[reason] += 1
        self._log(reason, path, error)

    def failed(self, path: str, exc: OSError) -> None:
        """A stat or listing of ``path`` failed for another reason than "it is gone"."""
        name = errno_name(exc)
        self.stat_errors[name] += 1
        self.tallies[coarse_reason(exc)] += 1
        self._log(name, path, exc.strerror)

    def _log(self, reason: str, path: str, error: BaseException | str | None) -> None:
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

    def merge(self) -> None:
        """Hand the tallies gathered so far to the source (walks call it between batches)."""
        self.counters.merge(self.tallies)
        if self.stat_error_counters is not None:
            self.stat_error_counters.merge(self.stat_errors)

    def flush(self) -> dict[str, int]:
        """Hand the tallies to the source's counters; returns them for the walk's summary."""
        summary = dict(self.tallies)
        summary.update({f"stat_error_{name}": n for name, n in self.stat_errors.items()})
        self.merge()
        return summary

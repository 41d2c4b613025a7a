"""The suspect policy, one function per situation (DESIGN 5: "snapshot row", "audit row",
"suspects", "Clocks").

A suspect is ``path -> {mtime, marked_at, expires_at, reason}`` where ``reason`` is ``"hot"``
(younger than the hot window by the logical clock) or ``"future"`` (an mtime ahead of the
watermark). Marking a listed path again with the *same* mtime leaves its TTL running; a changed
mtime renews it — a file still being written stays suspect, a quiet one leaves when its TTL ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fustor_core.arbitration import Batch, LogicalClock, NodeInfo, SentinelUpdate
from fustor_merge_suspect.suspect_list import SuspectList

HOT = "hot"
FUTURE = "future"


@dataclass(frozen=True)
class Moment:
    """What every decision of one hook call needs: the clock, Fusion's time and the TTL."""

    clock: LogicalClock
    now: float
    ttl_s: float


def suspicion(clock: LogicalClock, mtime: float) -> str | None:
    """Why a file with this mtime is suspect (``"future"`` or ``"hot"``), or None if it is cold."""
    if clock.is_future(mtime):
        return FUTURE
    if clock.is_hot(mtime):
        return HOT
    return None


def mark_hot_file(suspects: SuspectList, path: str, mtime: float, reason: str, moment: Moment) -> None:
    """List ``path`` as suspect; an unchanged mtime keeps its TTL, a changed one renews it."""
    current = suspects.get(path)
    if current is not None and current["mtime"] == mtime:
        return
    marked_at = current["marked_at"] if current is not None else moment.now
    suspects.put(path, mtime=mtime, marked_at=marked_at, expires_at=moment.now + moment.ttl_s, reason=reason)


def release_files_seen_in_realtime(
    suspects: SuspectList, batch: Batch, moment: Moment, future_tolerance_s: float
) -> None:
    """A realtime insert/update confirms the file — unless its mtime lies in the future, which
    is suspect whoever reports it."""
    rows = batch.rows
    clock = moment.clock
    future_after = clock.watermark() + future_tolerance_s
    for i in batch.to_write():
        row = rows[i]
        if not row.is_dir and row.mtime > future_after and clock.is_future(row.mtime):
            mark_hot_file(suspects, row.path, row.mtime, FUTURE, moment)
        else:
            suspects.discard(row.path)


def release_deleted_paths(suspects: SuspectList, paths: Iterable[str], directories: Sequence[str]) -> None:
    """A deleted file is no longer suspect; a deleted directory takes its suspects with it."""
    for path in paths:
        suspects.discard(path)
    suspects.discard_under_any(directories)


def mark_hot_scanned_files(
    suspects: SuspectList, batch: Batch, indices: Iterable[int], moment: Moment, hot_window_s: float
) -> None:
    """Snapshot/audit files that are hot or in the future become suspect; a listed suspect that
    a scan now reports with a cold mtime is released.

    ``indices`` are the rows the tree accepted or found identical. Most scanned files are cold,
    so rows older than the hot window skip the clock calls entirely.
    """
    rows = batch.rows
    clock = moment.clock
    cold_at_or_before = clock.watermark() - hot_window_s
    for i in indices:
        row = rows[i]
        if row.is_dir:
            continue
        if row.mtime > cold_at_or_before:
            reason = suspicion(clock, row.mtime)
            if reason is not None:
                mark_hot_file(suspects, row.path, row.mtime, reason, moment)
                continue
        if suspects and row.path in suspects:
            suspects.discard(row.path)


def settle_expired_suspect(suspects: SuspectList, path: str, node: NodeInfo | None, moment: Moment) -> None:
    """The TTL of ``path`` passed: release it if it is gone or stable, renew it if it is still
    changing and hot, release it if it changed but has cooled down."""
    record = suspects.get(path)
    if record is None:
        return
    if node is None or node.is_dir or node.mtime == record["mtime"]:
        suspects.discard(path)
        return
    reason = suspicion(moment.clock, node.mtime)
    if reason is None:
        suspects.discard(path)
    else:
        mark_hot_file(suspects, path, node.mtime, reason, moment)


def settle_sentinel_report(suspects: SuspectList, update: SentinelUpdate, moment: Moment) -> None:
    """The leader re-checked a suspect: gone or no longer hot releases it, a new hot mtime
    renews it, the same hot mtime leaves it to its TTL."""
    record = suspects.get(update.path)
    if record is None:
        return
    if not update.exists:
        suspects.discard(update.path)
        return
    if update.mtime is None:
        return
    reason = suspicion(moment.clock, update.mtime)
    if reason is None:
        suspects.discard(update.path)
    elif update.mtime != record["mtime"]:
        mark_hot_file(suspects, update.path, update.mtime, reason, moment)

"""The suspect policy, one function per situation (snapshot and audit rows, realtime rows,
expiry, sentinel reports).

A suspect is ``path -> {mtime, marked_at, expires_at, reason}`` where ``reason`` is ``"hot"``
(younger than the hot window by the logical clock) or ``"future"`` (an mtime ahead of the
watermark). Marking a listed path again with the *same* mtime leaves its TTL running; a changed
mtime renews it — a file still being written stays suspect, a quiet one leaves when its TTL ends.

A fresh upload makes every scanned file suspect, so the ingest-path functions work a batch at a
time: they classify the rows against two thresholds computed once (:class:`Moment`), then mark
and release through the list's bulk calls (``put_many``, ``discard_many``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import and_, attrgetter, lt, not_

from fustor_core.arbitration import Batch, LogicalClock, NodeInfo, SentinelUpdate
from fustor_core.event_model import Row
from fustor_merge_suspect.suspect_list import SuspectList

HOT = "hot"
FUTURE = "future"

_PATH, _MTIME, _IS_DIR = attrgetter("path"), attrgetter("mtime"), attrgetter("is_dir")


@dataclass(frozen=True)
class Moment:
    """What every decision of one hook call needs: the clock, Fusion's time, the TTL and the
    two mtime thresholds (hot above ``hot_after``, in the future above ``future_after``)."""

    clock: LogicalClock
    now: float
    ttl_s: float
    hot_after: float
    future_after: float

    @classmethod
    def at(cls, clock: LogicalClock, now: float, ttl_s: float, future_tolerance_s: float) -> Moment:
        return cls(clock, now, ttl_s, clock.hot_cutoff(), clock.watermark() + future_tolerance_s)

    def suspicion(self, mtime: float) -> str | None:
        """Why a file with this mtime is suspect (``"future"`` or ``"hot"``), or None if cold."""
        if mtime > self.future_after:
            return FUTURE
        if mtime > self.hot_after:
            return HOT
        return None


def mark_hot_files(
    suspects: SuspectList,
    paths: Sequence[str],
    mtimes: Sequence[float],
    reasons: Sequence[str] | str,
    moment: Moment,
) -> None:
    """List ``paths`` as suspect; an unchanged mtime keeps its TTL, a changed one renews it
    (keeping ``marked_at``, the first time the file was found suspect)."""
    suspects.put_many(
        paths,
        unless_same="mtime",
        keep=("marked_at",),
        mtime=mtimes,
        marked_at=moment.now,
        expires_at=moment.now + moment.ttl_s,
        reason=reasons,
    )


def mark_hot_file(suspects: SuspectList, path: str, mtime: float, reason: str, moment: Moment) -> None:
    """:func:`mark_hot_files` for one path."""
    mark_hot_files(suspects, [path], [mtime], reason, moment)


def mark_hot_scanned_files(
    suspects: SuspectList, rows: Sequence[Row], indices: Sequence[int], moment: Moment
) -> None:
    """Snapshot/audit files that are hot or in the future become suspect; a listed suspect that
    a scan now reports with a cold mtime is released.

    ``indices`` are the rows the tree accepted or found identical. A fresh upload makes every
    row of every batch hot, so the rows are sorted into hot and cold by C-level ``map``s (no
    Python step per row) and the list is updated with one bulk call each.
    """
    selected = rows if indices == range(len(rows)) else list(map(rows.__getitem__, indices))
    if not selected:
        return
    mtimes = list(map(_MTIME, selected))
    hot_after = moment.hot_after
    if max(mtimes) <= hot_after and not suspects:  # a settled tree: nothing to mark or release
        return
    is_dir = list(map(_IS_DIR, selected))
    files = list(map(not_, is_dir)) if True in is_dir else None
    hot = list(map(lt, repeat(hot_after), mtimes))
    if files is not None:
        hot = list(map(and_, files, hot))
    if suspects:  # cold files can only release what was listed before this batch
        cold = list(map(not_, hot)) if files is None else list(map(and_, files, map(not_, hot)))
        if True in cold:
            suspects.discard_many(compress(map(_PATH, selected), cold))
    if True not in hot:
        return
    hot_mtimes = list(compress(mtimes, hot))
    future_after = moment.future_after
    reasons: list[str] | str = HOT
    if max(hot_mtimes) > future_after:
        reasons = [FUTURE if mtime > future_after else HOT for mtime in hot_mtimes]
    mark_hot_files(suspects, list(compress(map(_PATH, selected), hot)), hot_mtimes, reasons, moment)


def release_files_seen_in_realtime(suspects: SuspectList, batch: Batch, moment: Moment) -> None:
    """A realtime insert/update confirms the file — unless its mtime lies in the future, which
    is suspect whoever reports it."""
    rows = batch.rows
    future_after = moment.future_after
    seen: list[str] = []
    future_paths: list[str] = []
    future_mtimes: list[float] = []
    for i in batch.to_write():
        row = rows[i]
        if not row.is_dir and row.mtime > future_after:
            future_paths.append(row.path)
            future_mtimes.append(row.mtime)
        else:
            seen.append(row.path)
    if seen and suspects:
        suspects.discard_many(seen)
    mark_hot_files(suspects, future_paths, future_mtimes, FUTURE, moment)


def release_deleted_paths(suspects: SuspectList, paths: Iterable[str], directories: Sequence[str]) -> None:
    """A deleted file is no longer suspect; a deleted directory takes its suspects with it."""
    suspects.discard_many(paths)
    suspects.discard_under_any(directories)


def settle_expired_suspects(
    suspects: SuspectList, paths: Sequence[str], nodes: Sequence[NodeInfo | None], moment: Moment
) -> None:
    """The TTL of ``paths`` passed: release each one that is gone or stable, renew one that is
    still changing and hot, release one that changed but has cooled down."""
    recorded = suspects.get_many(paths, "mtime")
    released: list[str] = []
    renewed: list[str] = []
    renewed_mtimes: list[float] = []
    renewed_reasons: list[str] = []
    for path, node, mtime in zip(paths, nodes, recorded, strict=True):
        if mtime is None:
            continue
        if node is None or node.is_dir or node.mtime == mtime:
            released.append(path)
            continue
        reason = moment.suspicion(node.mtime)
        if reason is None:
            released.append(path)
        else:
            renewed.append(path)
            renewed_mtimes.append(node.mtime)
            renewed_reasons.append(reason)
    suspects.discard_many(released)
    mark_hot_files(suspects, renewed, renewed_mtimes, renewed_reasons, moment)


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
    reason = moment.suspicion(update.mtime)
    if reason is None:
        suspects.discard(update.path)
    elif update.mtime != record["mtime"]:
        mark_hot_file(suspects, update.path, update.mtime, reason, moment)

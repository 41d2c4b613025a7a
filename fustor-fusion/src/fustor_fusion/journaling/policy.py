"""When to snapshot a view: enough rows since the last snapshot, or enough time with real inputs.

A snapshot costs time in proportion to the tree (ingest of the view waits while it is dumped),
replay at start costs time in proportion to the rows recorded since the last snapshot. Snapshotting
after ``max(every_rows, tree_ratio × files)`` rows keeps both bounded: the replay tail is at most
that many rows, and the dump's cost, spread over the rows that triggered it, is a fixed fraction
of ingest whatever the size of the tree. Ticks count one row each (an idle view still snapshots,
rarely) but do not start the time-based trigger on their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from fustor_fusion.config import JournalConfig
from fustor_fusion.journaling.inputs import TICK


@dataclass
class SnapshotPolicy:
    every_rows: int
    tree_ratio: float
    interval_s: float
    last_at: float
    """Fusion time of the last snapshot (or of the start)."""
    rows_since: int = 0
    inputs_since: int = 0
    """Inputs other than ticks since the last snapshot."""
    not_before: float = 0.0
    """After a failed snapshot: do not try again before this time."""

    @classmethod
    def from_config(cls, config: JournalConfig, now: float) -> SnapshotPolicy:
        return cls(config.snapshot_every_rows, config.snapshot_tree_ratio, config.snapshot_interval_s, now)

    def note(self, kind: str, weight: int) -> None:
        self.rows_since += weight
        if kind != TICK:
            self.inputs_since += 1

    def threshold(self, files: int) -> int:
        return max(self.every_rows, int(self.tree_ratio * files))

    def due(self, files: int, now: float) -> bool:
        if now < self.not_before or not self.rows_since:
            return False
        if self.rows_since >= self.threshold(files):
            return True
        return self.inputs_since > 0 and now - self.last_at >= self.interval_s

    def taken(self, now: float) -> None:
        self.last_at = now
        self.rows_since = 0
        self.inputs_since = 0

    def failed(self, now: float, backoff_s: float = 60.0) -> None:
        self.not_before = now + backoff_s

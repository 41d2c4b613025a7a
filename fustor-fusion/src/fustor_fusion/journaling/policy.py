"""When to snapshot a view: enough rows since the last snapshot, or enough time with real inputs.

A snapshot costs time in proportion to the tree (ingest of the view waits while it is dumped),
replay at start costs time in proportion to the rows recorded since the last snapshot. Snapshotting
after ``max(every_rows, tree_ratio × files)`` rows keeps both bounded: the replay tail is at most
that many rows, and the dump's cost, spread over the rows that triggered it, is a fixed fraction
of ingest whatever the size of the tree. Ticks count one row each (an idle view still snapshots,
rarely) but do not start the time-based trigger on their own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from fustor_fusion.config import JournalConfig
from fustor_fusion.journaling.inputs import TICK

FOLLOWED_MEMORY = 65_536
"""Records a replica remembers the weight of (a record carries up to a whole batch, so this
covers hundreds of millions of rows — far more than any snapshot threshold)."""


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
    followed: deque[tuple[int, int, bool]] = field(default_factory=lambda: deque(maxlen=FOLLOWED_MEMORY))
    """On a replica: ``(seq, weight, is_input)`` of the records applied, so that a node taking
    the view over knows how much the *owner's* newest snapshot left out (see :meth:`rebase`)."""

    @classmethod
    def from_config(cls, config: JournalConfig, now: float) -> SnapshotPolicy:
        return cls(config.snapshot_every_rows, config.snapshot_tree_ratio, config.snapshot_interval_s, now)

    def note(self, kind: str, weight: int) -> None:
        self.rows_since += weight
        if kind != TICK:
            self.inputs_since += 1

    def note_followed(self, seq: int, kind: str, weight: int) -> None:
        """A replica applied record ``seq``: remembered for :meth:`rebase`, counted as usual."""
        self.followed.append((seq, weight, kind != TICK))
        self.note(kind, weight)

    def rebase(self, snapshot_seq: int | None, snapshot_at: float | None, now: float) -> None:
        """Taking the view over: count only what the newest snapshot in the journal (written by
        the previous owner, which this node never saw) does not contain. Without this, every row
        the replica followed would count, and the new owner would start a snapshot at its first
        write — pausing the ingest of a big view right after a takeover for nothing."""
        if snapshot_seq is None:
            return  # no snapshot at all: everything followed is still uncovered
        later = [(weight, is_input) for seq, weight, is_input in self.followed if seq > snapshot_seq]
        self.rows_since = sum(weight for weight, _ in later)
        self.inputs_since = sum(1 for _, is_input in later if is_input)
        self.last_at = snapshot_at if snapshot_at is not None else now
        self.followed.clear()

    def threshold(self, files: int) -> int:
        return max(self.every_rows, int(self.tree_ratio * files))

    def due(self, files: int, now: float) -> bool:
        if now < self.not_before or not self.rows_since:
            return False
        if self.rows_since >= self.threshold(files):
            return True
        return self.inputs_since > 0 and now - self.last_at >= self.interval_s

    def taken(self, now: float) -> None:
        self.followed.clear()
        self.last_at = now
        self.rows_since = 0
        self.inputs_since = 0

    def failed(self, now: float, backoff_s: float = 60.0) -> None:
        self.not_before = now + backoff_s

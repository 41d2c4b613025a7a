"""What the engine answers for a batch: how many rows were accepted, dropped (and why), unchanged."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BatchResult:
    """The verdict on one or more batches, as reported to the agent."""

    accepted: int = 0
    dropped: int = 0
    unchanged: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def merge(self, other: BatchResult) -> BatchResult:
        """Add ``other`` into this result (returns self, for chaining)."""
        self.accepted += other.accepted
        self.dropped += other.dropped
        self.unchanged += other.unchanged
        for reason, count in other.reasons.items():
            self.reasons[reason] = self.reasons.get(reason, 0) + count
        return self

    def add_dropped(self, reason: str, count: int = 1) -> None:
        """Count rows refused before they reached the engine (e.g. malformed at the HTTP layer)."""
        self.dropped += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of the events answer."""
        return {
            "accepted": self.accepted,
            "dropped": self.dropped,
            "unchanged": self.unchanged,
            "reasons": dict(self.reasons),
        }


class DropCounters:
    """Running totals of dropped rows by reason, for the view's stats."""

    def __init__(self) -> None:
        self.by_reason: Counter[str] = Counter()
        self.accepted = 0
        self.unchanged = 0

    def record(self, result: BatchResult) -> None:
        self.accepted += result.accepted
        self.unchanged += result.unchanged
        self.by_reason.update(result.reasons)

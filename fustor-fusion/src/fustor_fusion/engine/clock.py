"""The logical clock: "now" in the storage's mtime frame (docs/arbitration.md, "The logical clock").

NFS servers stamp mtimes with *their* clock, which drifts from the hosts' clocks, so hot/cold
decisions cannot compare an mtime with Fusion's wall clock. Each realtime row that reports a
write on the agent's host (``Row.local_write``) is a sample of the difference between the
storage clock (the fresh mtime) and the agent's clock (the observation time): a file an agent
just saw written has ``mtime ≈ observed_at`` in their respective frames. Other realtime rows are
not samples: a file moved in, or copied with ``cp -p``/``rsync -a``, keeps an old mtime, and a
directory of 10,000 such files must not drag the watermark back a year.
The most frequent difference (bucketed to a second) is the skew, and the watermark is physical
time shifted by it. A file with a future mtime is one sample among many, so it can neither drag
the watermark forward nor hide itself as "cold".
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any

from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event, EventType, MessageSource


class SkewClock:
    """A :class:`fustor_core.arbitration.LogicalClock` driven by realtime-row skew samples."""

    def __init__(
        self,
        settings: ArbitrationSettings,
        now: Callable[[], float],
        *,
        window: int = 512,
        min_agreeing: int = 3,
    ) -> None:
        self._settings = settings
        self._now = now
        self._samples: deque[int] = deque(maxlen=window)
        self._counts: Counter[int] = Counter()
        self._min_agreeing = min_agreeing
        self._skew = 0.0

    @property
    def skew(self) -> float:
        """Storage clock minus agent clock, in seconds (0 until enough samples agree)."""
        return self._skew

    def now(self) -> float:
        """Fusion's wall clock."""
        return self._now()

    def watermark(self) -> float:
        """Physical time expressed in the storage's mtime frame."""
        return self._now() + self._skew

    def is_future(self, mtime: float) -> bool:
        """``mtime`` lies ahead of the watermark by more than the tolerance."""
        return mtime > self.watermark() + self._settings.future_tolerance_s

    def is_hot(self, mtime: float) -> bool:
        """Younger than the hot window by the logical clock, or in the future."""
        return self.watermark() - mtime < self._settings.hot_window_s

    def hot_cutoff(self) -> float:
        """mtimes strictly above this are hot; lets a rule test a whole batch with one subtraction."""
        return self.watermark() - self._settings.hot_window_s

    def observe(self, event: Event) -> None:
        """Learn from the local writes of a realtime insert/update event (a few samples per batch)."""
        if event.message_source is not MessageSource.REALTIME or event.event_type is EventType.DELETE:
            return
        observed = event.index / 1000.0
        samples, counts = self._samples, self._counts
        rows = [row for row in event.rows if row.local_write and not row.is_dir and row.mtime > 0]
        step = max(1, len(rows) // 16)  # a handful of samples per batch is plenty
        for row in rows[::step]:
            sample = round(row.mtime - observed)
            if len(samples) == samples.maxlen:
                oldest = samples[0]
                counts[oldest] -= 1
                if not counts[oldest]:
                    del counts[oldest]
            samples.append(sample)
            counts[sample] += 1
        if counts:
            winner, votes = counts.most_common(1)[0]
            if votes >= self._min_agreeing:
                self._skew = float(winner)

    def state(self) -> dict[str, Any]:
        """What a snapshot of the view keeps of the clock: the recent samples and the skew."""
        return {"samples": list(self._samples), "skew": self._skew}

    def restore(self, state: dict[str, Any]) -> None:
        """Take back a :meth:`state` (the samples' counts are rebuilt from them)."""
        self._samples.clear()
        self._samples.extend(int(sample) for sample in state["samples"])
        self._counts = Counter(self._samples)
        self._skew = float(state["skew"])

"""The deep audit's rolling budget: which directories this audit deep-checks.

An audit skips a directory whose mtime is unchanged, and rewriting a file in place (append,
truncate, overwrite) changes no directory's mtime: from a host without an agent such an edit is
never seen. A *deep check* lists the directory and re-stats every entry anyway. Doing that for
the whole tree at every audit would cost a snapshot each time, so the tree is cut into
``N = ceil(deep_period_s / interval_s)`` slices by a stable hash of each directory's
path, and each audit deep-checks the next slice: every directory is deep-checked once per cycle
of N audits, i.e. about once per period, and each audit pays 1/N of a full listing — no burst.

Audits do not come exactly every ``interval_s`` (each waits that long *after* the last one
ended, and some are requested on demand), so the schedule is kept by time: an audit that finds
itself behind (more slices due since the cycle started than were done) checks the overdue
slices too, and never fewer than one. On demand, a *full* deep audit checks every slice at once
and counts as a complete cycle.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Any


def slice_of(path: str, slices: int) -> int:
    """The slice directory ``path`` belongs to (stable across runs, hosts and Python versions)."""
    return zlib.crc32(path.encode("utf-8", "surrogateescape")) % slices


@dataclass(frozen=True, slots=True)
class DeepPlan:
    """Deep-check the directories whose slice is in ``[first, end)`` of ``slices``."""

    first: int
    end: int
    slices: int

    @property
    def full(self) -> bool:
        return self.end - self.first >= self.slices

    def __call__(self, path: str) -> bool:
        """True when directory ``path`` is deep-checked by this audit (the source's predicate)."""
        return self.full or self.first <= slice_of(path, self.slices) < self.end


class DeepSchedule:
    """Slices per cycle and the progress of the current cycle, for one leader tenure."""

    def __init__(self, period_s: float, interval_s: float) -> None:
        self.period_s = period_s
        self.slices = math.ceil(period_s / interval_s) if period_s > 0 else 0
        self.cycle_started_at: float | None = None
        self.next_slice = 0
        self.dirs_this_cycle = 0
        self.cycles = 0
        self.last_cycle_completed_at: float | None = None

    @property
    def enabled(self) -> bool:
        return self.slices > 0

    def plan(self, now: float, *, full: bool = False) -> DeepPlan | None:
        """What the audit starting at ``now`` deep-checks (None: nothing, the deep audit is off)."""
        if full:
            slices = max(self.slices, 1)
            return DeepPlan(0, slices, slices)
        if not self.enabled:
            return None
        if self.cycle_started_at is None:
            self.cycle_started_at = now
        due = math.floor((now - self.cycle_started_at) / self.period_s * self.slices) + 1
        end = min(self.slices, max(due, self.next_slice + 1))
        return DeepPlan(self.next_slice, end, self.slices)

    def done(self, plan: DeepPlan, dirs_checked: int, now: float) -> None:
        """The audit that ran ``plan`` finished (an audit that failed redoes its slices)."""
        if plan.full:
            self._cycle_completed(now, restart_at=now)
            return
        self.next_slice = plan.end
        self.dirs_this_cycle += dirs_checked
        if self.next_slice >= self.slices:
            started = self.cycle_started_at if self.cycle_started_at is not None else now
            next_start = started + self.period_s
            # keep the cadence (each slice about one period after its last check), unless the
            # schedule fell more than a period behind (e.g. audits slower than their interval)
            self._cycle_completed(now, restart_at=next_start if now - next_start < self.period_s else now)

    def _cycle_completed(self, now: float, *, restart_at: float) -> None:
        self.cycles += 1
        self.last_cycle_completed_at = now
        self.cycle_started_at = restart_at
        self.next_slice = 0
        self.dirs_this_cycle = 0

    def state(self) -> dict[str, Any]:
        """The progress to keep across agent restarts (JSON): see :meth:`restore`."""
        return {
            "period_s": self.period_s,
            "slices": self.slices,
            "cycle_started_at": self.cycle_started_at,
            "next_slice": self.next_slice,
            "dirs_this_cycle": self.dirs_this_cycle,
            "cycles": self.cycles,
            "last_cycle_completed_at": self.last_cycle_completed_at,
        }

    def restore(self, state: dict[str, Any]) -> bool:
        """Go on from a saved :meth:`state`, so a restart does not restart the cycle (slices after
        the restart point would otherwise wait a whole extra cycle). False, and nothing changed,
        when the state is for another period or slicing (the settings changed: a new cycle)."""
        try:
            if float(state["period_s"]) != self.period_s or int(state["slices"]) != self.slices:
                return False
            next_slice = int(state["next_slice"])
            started = state["cycle_started_at"]
            completed = state["last_cycle_completed_at"]
            values = (
                float(started) if started is not None else None,
                min(max(next_slice, 0), self.slices),
                int(state["dirs_this_cycle"]),
                int(state["cycles"]),
                float(completed) if completed is not None else None,
            )
        except (KeyError, TypeError, ValueError):
            return False
        (
            self.cycle_started_at,
            self.next_slice,
            self.dirs_this_cycle,
            self.cycles,
            self.last_cycle_completed_at,
        ) = values
        return True

    def status(self) -> dict[str, Any]:
        """The progress shown under the audit mode in the agent's status."""
        return {
            "period_s": self.period_s,
            "slices_per_cycle": self.slices,
            "slice": self.next_slice,
            "dirs_checked_this_cycle": self.dirs_this_cycle,
            "cycle_started_at": self.cycle_started_at,
            "cycles_completed": self.cycles,
            "last_cycle_completed_at": self.last_cycle_completed_at,
        }

"""How far a running snapshot got: entries walked, rate, elapsed, and an ETA once the count of a
previous snapshot of the same pipe is known.

One computation (:func:`snapshot_figures`) feeds the three places that show it — the live
display on a terminal, the periodic log lines elsewhere, and ``fustor-agent status`` (the
``snapshot_progress`` key of a pipe's status) — so they always agree.

The previous count survives restarts: when a snapshot completes its entry count is written to
``snapshots.json`` in the agent's state directory (``state_dir``, by default
``$FUSTOR_HOME/agent/<agent id>``; :class:`SnapshotHistory`), so a snapshot after a restart has
an ETA too.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

ACTIVE = ("scanning", "finishing")
"""Snapshot states in which progress is shown."""


@dataclass(frozen=True)
class SnapshotFigures:
    """A running snapshot's figures."""

    state: str
    """``scanning`` (walking the tree) or ``finishing`` (walk done, the last rows being sent)."""
    walked: int
    """Files and directories walked so far."""
    rate: int
    """Entries walked per second, over the whole run."""
    elapsed_s: float
    expected: int | None
    """Entries the previous snapshot of this pipe walked (None: never seen one)."""
    eta_s: float | None
    """Seconds left at the current rate, once ``expected`` is known (None while it is not, or
    once this run walked more than the previous one)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def snapshot_figures(
    progress: dict[str, Any], expected: int | None, now: float | None = None
) -> SnapshotFigures | None:
    """The figures of a snapshot mode's ``progress`` (what it reports), or None when none runs."""
    state = progress.get("state")
    if state not in ACTIVE:
        return None
    walked = _int(progress.get("files")) + _int(progress.get("dirs"))
    started = progress.get("started_at")
    now = time.time() if now is None else now
    elapsed = max(0.0, now - started) if isinstance(started, int | float) else 0.0
    rate = _int(progress.get("rate")) or (round(walked / elapsed) if elapsed > 0 else 0)
    eta: float | None = None
    if state == "finishing":
        eta = 0.0
    elif expected is not None and rate > 0 and walked <= expected:
        eta = round((expected - walked) / rate, 1)
    return SnapshotFigures(str(state), walked, rate, round(elapsed, 1), expected, eta)


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def duration_text(seconds: float | None) -> str:
    """``42s``, ``3m05s``, ``2h07m``; ``?`` when unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def figures_text(figures: dict[str, Any]) -> str:
    """``12,345 walked of ~1,000,000, 45,000/s, elapsed 3s, ETA 3m40s`` (a status's
    ``snapshot_progress``, or :meth:`SnapshotFigures.as_dict`)."""
    walked = f"{figures['walked']:,} walked"
    if figures.get("expected"):
        walked += f" of ~{figures['expected']:,}"
    parts = [walked, f"{figures['rate']:,}/s", f"elapsed {duration_text(figures['elapsed_s'])}"]
    if figures.get("state") == "finishing":
        parts.append("walk done, sending the last rows")
    elif figures.get("eta_s") is not None:
        parts.append(f"ETA {duration_text(figures['eta_s'])}")
    elif figures.get("expected"):
        parts.append("ETA ? (more than last time)")
    else:
        parts.append("ETA after the first complete snapshot")
    return ", ".join(parts)


class SnapshotHistory:
    """The entry count of each pipe's last complete snapshot, kept in a small JSON file."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._counts: dict[str, int] = {}
        if path is not None:
            try:
                loaded = json.loads(path.read_text())
                self._counts = {str(k): int(v["entries"]) for k, v in loaded.items()}
            except FileNotFoundError:
                pass
            except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
                log_event(
                    logger, logging.WARNING, "snapshot history unreadable; starting afresh", error=str(exc)
                )

    def expected(self, pipe: str) -> int | None:
        return self._counts.get(pipe)

    def record(self, pipe: str, entries: int) -> None:
        """Remember ``entries`` for ``pipe`` (written at once, atomically)."""
        self._counts[pipe] = entries
        if self.path is None:
            return
        body = {name: {"entries": count, "recorded_at": time.time()} for name, count in self._counts.items()}
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:  # an unusable state directory must not stop the agent: no ETA after a restart then
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(body))
            os.replace(temporary, self.path)
        except OSError as exc:
            log_event(logger, logging.WARNING, "cannot write the snapshot history", error=str(exc))

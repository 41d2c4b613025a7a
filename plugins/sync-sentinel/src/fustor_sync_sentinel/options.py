"""The options of the sentinel mode: ``modes: {sentinel: {...}}`` in a pipe of ``agent.yaml``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.config import FustorConfig


class SentinelOptions(FustorConfig):
    """How often suspects are re-checked and how many per sweep (unknown keys are errors)."""

    interval_s: float = Field(default=120.0, gt=0)
    """Seconds between sweeps (a requested sweep restarts the wait)."""
    max_paths: int = Field(default=1000, ge=1, le=10_000)
    """Suspects re-checked per sweep at most, the most urgent first (Fusion's earliest expiry):
    a few stats each, never a scan. Fusion answers at most 10,000 per request."""

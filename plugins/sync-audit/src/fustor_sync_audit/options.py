"""The options of the audit mode: ``modes: {audit: {...}}`` in a pipe of ``agent.yaml``."""

from __future__ import annotations

from pydantic import ConfigDict, Field

from fustor_core.config import FustorConfig


class AuditOptions(FustorConfig):
    """When audits run and how fast the deep check covers the tree (unknown keys are errors)."""

    interval_s: float = Field(default=600.0, gt=0)
    """Seconds between audits (the first one comes this long after the snapshot; a requested
    audit restarts the wait)."""
    deep_period_s: float = Field(default=86_400.0, ge=0)
    """Every directory is deep-checked (listed in full, every file re-stat'ed, even when its mtime
    is unchanged) at least once per this many seconds, a slice of the tree per audit. It finds
    files rewritten in place from hosts without an agent, which change no directory's mtime.
    0 turns the deep audit off."""


class AuditRequest(FustorConfig):
    """The body of ``POST /api/v1/pipes/{name}/audit`` (optional): this run's options."""

    model_config = ConfigDict(extra="forbid", strict=True)

    deep: bool = False
    """Deep-check every directory now (a full deep cycle), not only this audit's slice."""


class FreshOptions(FustorConfig):
    """How the leader waits for relist requests (``modes: {fresh: {...}}``; unknown keys are errors)."""

    poll_s: float = Field(default=30.0, gt=0, le=60)
    """How long one long poll of Fusion's task channel waits for a request (Fusion answers at
    once when one arrives, so this only bounds how long a poll stays open)."""

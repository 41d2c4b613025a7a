"""The agent's YAML configuration (DESIGN 6.1): an agent id, pipes, and the agent's own API.

The minimal file of the design brief is enough::

    agent_id: host-a
    pipes:
      - datastore: demo
        source: {driver: fs, path: /mnt/export}
        pusher: {driver: http, url: "http://127.0.0.1:8102", api_key: "ingest-secret"}

Driver sections (``source``, ``pusher``) may hold driver-specific keys beside ``driver``; the
driver validates them itself, so a typo there is still reported with its key.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from fustor_core.config import FustorConfig, load_config
from fustor_core.http_server import ConnectionLimits

DEFAULT_API_PORT = 8103


class DriverSection(FustorConfig):
    """``{driver: name, ...driver options}``; everything but ``driver`` goes to the driver."""

    model_config = ConfigDict(extra="allow")

    driver: str

    def options(self) -> dict[str, Any]:
        """The section without ``driver``, as the driver's factory receives it."""
        return dict(self.model_extra or {})


class PipeConfig(FustorConfig):
    """One datastore fed from one source through one pusher, with its sync settings."""

    name: str | None = None
    """Shown in status and used by the API (``/api/v1/pipes/{name}``); defaults to the datastore."""
    datastore: str
    source: DriverSection
    pusher: DriverSection
    audit_interval_s: float = Field(default=600.0, gt=0)
    """Leader: seconds between audits (the first one comes this long after the snapshot)."""
    deep_audit_period_s: float = Field(default=86400.0, ge=0)
    """Leader: every directory is deep-checked (listed in full, every file re-stat'ed, even when
    its mtime is unchanged) at least once per this many seconds, a slice of the tree per audit.
    It finds files rewritten in place from hosts without an agent, which change no directory's
    mtime. 0 turns the deep audit off."""
    sentinel_interval_s: float = Field(default=120.0, gt=0)
    """Leader: seconds between sentinel sweeps over Fusion's suspects."""
    heartbeat_interval_s: float = Field(default=10.0, gt=0)
    """Seconds between heartbeats (never more than a third of Fusion's session timeout)."""
    batch_size: int = Field(default=5000, ge=1)
    """Most rows per request to Fusion (and per event). Large batches are what makes the initial
    snapshot fast (per-request costs dominate below a few thousand rows); batches are only this
    large under load — an idle bus sends a lone change at once. Keep it under Fusion's
    ``max_batch_rows`` (10,000 by default)."""
    flush_interval_s: float = Field(default=0.0, ge=0)
    """How long a partial batch waits for more rows. 0: send as soon as the bus is idle (lowest
    latency); a little more trades latency for fewer, larger requests."""
    bus_capacity: int = Field(default=20_000, ge=1)
    """Rows the pipe's event bus holds before producers wait (backpressure)."""
    modes: list[str] | None = None
    """Sync modes to run (default: every installed one)."""

    @property
    def pipe_name(self) -> str:
        return self.name or self.datastore


class ApiConfig(FustorConfig):
    """The agent's own HTTP API (status, run an audit or snapshot now)."""

    host: str = "127.0.0.1"
    port: int = Field(default=DEFAULT_API_PORT, ge=0, le=65535)
    """0 disables the API."""
    token: str | None = None
    """Bearer token for the POST endpoints; without one they answer 403."""
    connections: ConnectionLimits = Field(default_factory=lambda: ConnectionLimits(max_connections=100))
    """Timeouts and the connection limit of the API server (100 connections: it serves an
    operator and a monitoring probe, not a crowd)."""


class AgentConfig(FustorConfig):
    """The whole ``agent.yaml``."""

    agent_id: str = Field(default_factory=socket.gethostname)
    pipes: list[PipeConfig] = Field(min_length=1)
    api: ApiConfig = Field(default_factory=ApiConfig)
    log_level: str = "INFO"
    shutdown_timeout_s: float = Field(default=10.0, ge=0)
    """On SIGTERM/SIGINT: how long to keep delivering queued rows before closing anyway."""

    @model_validator(mode="after")
    def _unique_pipe_names(self) -> AgentConfig:
        seen: set[str] = set()
        for pipe in self.pipes:
            if pipe.pipe_name in seen:
                raise ValueError(f"two pipes are named {pipe.pipe_name!r}; give them distinct 'name' keys")
            seen.add(pipe.pipe_name)
        return self


def load_agent_config(path: str | Path) -> AgentConfig:
    """Read and validate ``agent.yaml``; a :class:`~fustor_core.errors.ConfigError` names bad keys."""
    return load_config(AgentConfig, path)

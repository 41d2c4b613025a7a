"""The agent's YAML configuration: an agent id, pipes, and the agent's own API.

A minimal file is enough::

    agent_id: host-a
    pipes:
      - datastore: demo
        source: {driver: fs, path: /mnt/export}
        pusher: {driver: http, url: "http://127.0.0.1:8102", api_key: "ingest-secret"}

Driver sections (``source``, ``pusher``) may hold driver-specific keys beside ``driver``; the
driver validates them itself, so a typo there is still reported with its key. Likewise each
sync mode's options live under its name in ``modes:`` and are validated against the mode's own
model when the agent starts (``pipes.0.modes.audit.interval_s: ...``); here they are plain
mappings. The flat keys of earlier versions (``audit_interval_s``...) and the list form of
``modes`` are still read, with a deprecation warning.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from fustor_core.config import FustorConfig, load_config
from fustor_core.http_server import ConnectionLimits
from fustor_core.logs import LogFormat
from fustor_core.options import LegacyKeys, deprecation_notes, fold_legacy_keys

DEFAULT_API_PORT = 8103

ModeEntry = bool | dict[str, Any] | None
"""A mode under ``modes:``: its options (a mapping), ``true``/null (run, defaults) or ``false`` (off)."""

OTHER_MODES = "*"
"""The ``modes:`` key that says what every mode not named does (``"*": false``: only the named run)."""

LEGACY_MODE_KEYS: LegacyKeys = {
    "audit_interval_s": ("audit", "interval_s"),
    "deep_audit_period_s": ("audit", "deep_period_s"),
    "sentinel_interval_s": ("sentinel", "interval_s"),
}
"""Pipe keys of earlier versions -> the mode option they are now (read with a deprecation warning)."""


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
    modes: dict[str, ModeEntry] | list[str] = Field(default_factory=dict)
    """The sync modes this pipe runs, with their options: every installed mode runs unless
    turned off here (``sentinel: false``); ``audit: {interval_s: 600}`` sets a mode's options
    (each mode documents its own); ``"*": false`` turns off every mode not named. The list form
    of earlier versions (``[realtime, audit]``: only these) still works, deprecated."""

    audit_interval_s: float | None = None
    """Deprecated: ``modes.audit.interval_s``."""
    deep_audit_period_s: float | None = None
    """Deprecated: ``modes.audit.deep_period_s``."""
    sentinel_interval_s: float | None = None
    """Deprecated: ``modes.sentinel.interval_s``."""

    _mode_aliases: dict[str, dict[str, str]] = PrivateAttr(default_factory=dict)
    _listed_modes: bool = PrivateAttr(default=False)

    @field_validator("modes", mode="before")
    @classmethod
    def _modes_shape(cls, value: Any) -> Any:
        """One readable error for a malformed ``modes`` (not one per member of the union)."""
        if isinstance(value, list):
            if not all(isinstance(name, str) for name in value):
                raise ValueError("a list of mode names (deprecated) or a mapping of mode -> options")
        elif isinstance(value, dict):
            for name, entry in value.items():
                if not (entry is None or isinstance(entry, bool | dict)):
                    raise ValueError(f"{name}: true, false or a mapping of options (got {entry!r})")
        elif value is not None:
            raise ValueError("a mapping of mode -> true, false or its options")
        return value if value is not None else {}

    @model_validator(mode="after")
    def _normalise_modes(self) -> PipeConfig:
        """The list form becomes the mapping it means; deprecated keys move into their mode."""
        if isinstance(self.modes, list):
            self._listed_modes = True
            self.modes = {OTHER_MODES: False, **dict.fromkeys(self.modes, True)}
        others = self.modes.get(OTHER_MODES, True)
        if not isinstance(others, bool):
            raise ValueError(f'modes."{OTHER_MODES}": true or false (what the modes not named do)')
        given = {key: getattr(self, key) for key in LEGACY_MODE_KEYS if key in self.model_fields_set}
        self._mode_aliases = fold_legacy_keys(
            given, LEGACY_MODE_KEYS, self.modes, where="modes", default_on=others
        )
        return self

    @property
    def pipe_name(self) -> str:
        return self.name or self.datastore

    def mode_sections(self) -> dict[str, ModeEntry]:
        """``modes`` as a mapping (the list form converted), ``"*"`` included when given."""
        assert isinstance(self.modes, dict)  # _normalise_modes made it one
        return self.modes

    def mode_aliases(self) -> dict[str, dict[str, str]]:
        """Mode -> {option key: the deprecated pipe key it was given as}."""
        return self._mode_aliases

    def deprecated_keys(self, where: str) -> list[tuple[str, str]]:
        """(deprecated key given, what to write instead), ``where`` being this pipe's key path."""
        given = [key for key in LEGACY_MODE_KEYS if key in self.model_fields_set]
        notes = deprecation_notes(given, LEGACY_MODE_KEYS, prefix=f"{where}.", where=f"{where}.modes")
        if self._listed_modes:
            named = ", ".join(f"{name}: true" for name in self.mode_sections() if name != OTHER_MODES)
            notes.append((f"{where}.modes (a list)", f'{where}.modes: {{"*": false, {named}}}'))
        return notes


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
    log_format: LogFormat = "text"
    """``text`` (``key=value`` lines, for people) or ``json`` (one JSON object per line, for log
    shippers); ``--log-format`` overrides it."""
    progress_log_interval_s: float = Field(default=10.0, gt=0)
    """While a snapshot runs and the agent's stderr is not a terminal, a ``snapshot progress``
    log line is written this often (on a terminal a live display is drawn instead)."""
    shutdown_timeout_s: float = Field(default=10.0, ge=0)
    """On SIGTERM/SIGINT: how long to keep delivering queued rows before closing anyway."""
    state_dir: Path | None = None
    """Where the agent keeps its state: each pipe's directory cache (``<pipe>/dircache``), which
    lets a restarted agent resume with an audit instead of a snapshot. Default:
    ``$FUSTOR_HOME/agent/<agent_id>``."""

    def deprecated_keys(self) -> list[tuple[str, str]]:
        """(deprecated key given, what to write instead) over every pipe, to warn about at start."""
        return [note for i, pipe in enumerate(self.pipes) for note in pipe.deprecated_keys(f"pipes.{i}")]

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

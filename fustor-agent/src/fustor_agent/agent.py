"""The agent: builds every pipe from the config and the installed plugins, runs them and its API."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pluggy

from fustor_agent import __version__
from fustor_agent.config import OTHER_MODES, AgentConfig, PipeConfig
from fustor_agent.dircache_file import DirCacheFile
from fustor_agent.pipe import Pipe
from fustor_agent.snapshot_progress import SnapshotHistory
from fustor_core.agent_api import Pusher, Source, SyncMode
from fustor_core.errors import ConfigError, NotFound, PluginError
from fustor_core.options import build_options, check_names, log_deprecations
from fustor_core.paths import data_dir
from fustor_core.plugins import (
    Registration,
    collect_registrations,
    excluded_plugins,
    get_plugin_manager,
    require_registry,
)

logger = logging.getLogger(__name__)


def _file_name(name: str) -> str:
    """A pipe or agent name as one path component (``/`` and other odd characters escaped)."""
    return quote(name, safe="-_.@+=,") if name not in ("", ".", "..") else "_" + name


def _pick(registry: dict[str, Any], name: str, kind: str, key: str, package: str) -> Any:
    factory = registry.get(name)
    if factory is None:
        installed = ", ".join(sorted(registry)) or "none"
        raise PluginError(f"{key}: no {kind} {name!r} is installed (installed: {installed}; try {package})")
    return factory


def _make_mode(
    registration: Registration, section: dict[str, Any] | None, where: str, aliases: dict[str, str] | None
) -> SyncMode:
    """Call the mode's factory: with its validated options, or with nothing if it has none."""
    factory = registration.value
    if registration.options is None:
        if section:
            raise ConfigError(f"{where}: the sync mode {registration.name!r} takes no options")
        mode: SyncMode = factory()
        return mode
    options = build_options(registration.options, section, where=where, aliases=aliases)
    mode = factory(options)
    return mode


class Agent:
    """Every pipe of one ``agent.yaml``."""

    def __init__(self, config: AgentConfig, *, plugin_manager: pluggy.PluginManager | None = None) -> None:
        self.config = config
        pm = plugin_manager or get_plugin_manager()
        log_deprecations(logger, config.deprecated_keys(), source="agent")
        self._sources = require_registry(pm, "fustor_source_drivers", "source driver")
        self._pushers = require_registry(pm, "fustor_pusher_drivers", "pusher driver")
        self._modes = collect_registrations(pm, "fustor_sync_modes", "sync mode")
        self._excluded = excluded_plugins(pm)
        self.snapshot_history = SnapshotHistory(self.state_dir / "snapshots.json")
        self.pipes = [self._build_pipe(i, pipe) for i, pipe in enumerate(config.pipes)]
        self.started_at = time.time()

    def _build_pipe(self, index: int, config: PipeConfig) -> Pipe:
        key = f"pipes.{index}"
        source_factory = _pick(
            self._sources, config.source.driver, "source driver", f"{key}.source.driver", "fustor-source-fs"
        )
        pusher_factory = _pick(
            self._pushers, config.pusher.driver, "pusher driver", f"{key}.pusher.driver", "fustor-pusher-http"
        )
        modes = self._build_modes(config, f"{key}.modes")
        try:
            source: Source = source_factory(config.source.options())
            pusher: Pusher = pusher_factory(config.pusher.options())
        except ConfigError as exc:  # the driver names the key inside its section; add where that is
            raise ConfigError(f"{key}.{exc.message}") from None
        return Pipe(
            config,
            agent_id=self.config.agent_id,
            source=source,
            pusher=pusher,
            modes=modes,
            cache_file=DirCacheFile(self.state_dir / _file_name(config.pipe_name) / "dircache"),
            history=self.snapshot_history,
        )

    @property
    def state_dir(self) -> Path:
        """Where this agent's state lives (``state_dir``, or ``$FUSTOR_HOME/agent/<agent_id>``)."""
        if self.config.state_dir is not None:
            return self.config.state_dir.expanduser()
        return data_dir("agent", create=False) / _file_name(self.config.agent_id)

    def _build_modes(self, config: PipeConfig, where: str) -> list[SyncMode]:
        """The pipe's modes: every registered one unless ``modes:`` turns it off, each made by its
        factory with its validated options."""
        sections = config.mode_sections()
        named = [name for name in sections if name != OTHER_MODES]
        check_names(named, self._modes, where=where, kind="sync mode", excluded=self._excluded, logger=logger)
        others_run = sections.get(OTHER_MODES, True)
        pipe_key = where.rsplit(".", 1)[0]
        aliases = {
            mode: {option: f"{pipe_key}.{old}" for option, old in keys.items()}
            for mode, keys in config.mode_aliases().items()
        }
        modes: list[SyncMode] = []
        for name, registration in sorted(self._modes.items()):
            entry = sections.get(name, others_run)
            if entry is False:
                continue
            section = entry if isinstance(entry, dict) else None
            modes.append(_make_mode(registration, section, f"{where}.{name}", aliases.get(name)))
        return modes

    def pipe(self, name: str) -> Pipe:
        for pipe in self.pipes:
            if pipe.name == name:
                return pipe
        raise NotFound(f"no pipe named {name!r}")

    async def run(self, stop: asyncio.Event) -> None:
        """Run every pipe until ``stop`` is set, then shut them down cleanly."""
        timeout = self.config.shutdown_timeout_s
        await asyncio.gather(*(pipe.run(stop, timeout) for pipe in self.pipes))

    def not_started(self) -> str | None:
        """Why the agent is not yet doing its job (the first pipe that is not), or None."""
        for pipe in self.pipes:
            reason = pipe.not_started()
            if reason is not None:
                return reason
        return None

    def status(self) -> dict[str, Any]:
        return {
            "agent_id": self.config.agent_id,
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 1),
            "pipes": [pipe.status() for pipe in self.pipes],
        }

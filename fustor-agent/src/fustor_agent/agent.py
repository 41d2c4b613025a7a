"""The agent: builds every pipe from the config and the installed plugins, runs them and its API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pluggy

from fustor_agent import __version__
from fustor_agent.config import AgentConfig, PipeConfig
from fustor_agent.pipe import Pipe
from fustor_core.agent_api import Pusher, Source, SyncMode
from fustor_core.errors import ConfigError, NotFound, PluginError
from fustor_core.plugins import get_plugin_manager, require_registry


def _pick(registry: dict[str, Any], name: str, kind: str, key: str, package: str) -> Any:
    factory = registry.get(name)
    if factory is None:
        installed = ", ".join(sorted(registry)) or "none"
        raise PluginError(f"{key}: no {kind} {name!r} is installed (installed: {installed}; try {package})")
    return factory


class Agent:
    """Every pipe of one ``agent.yaml``."""

    def __init__(self, config: AgentConfig, *, plugin_manager: pluggy.PluginManager | None = None) -> None:
        self.config = config
        pm = plugin_manager or get_plugin_manager()
        self._sources = require_registry(pm, "fustor_source_drivers", "source driver")
        self._pushers = require_registry(pm, "fustor_pusher_drivers", "pusher driver")
        self._modes = require_registry(pm, "fustor_sync_modes", "sync mode")
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
        names = config.modes if config.modes is not None else sorted(self._modes)
        unknown = [name for name in names if name not in self._modes]
        if unknown:
            installed = ", ".join(sorted(self._modes))
            raise ConfigError(
                f"{key}.modes: unknown sync mode(s) {', '.join(unknown)} (installed: {installed})"
            )
        try:
            source: Source = source_factory(config.source.options())
            pusher: Pusher = pusher_factory(config.pusher.options())
        except ConfigError as exc:  # the driver names the key inside its section; add where that is
            raise ConfigError(f"{key}.{exc.message}") from None
        modes: list[SyncMode] = [self._modes[name]() for name in names]
        return Pipe(config, agent_id=self.config.agent_id, source=source, pusher=pusher, modes=modes)

    def pipe(self, name: str) -> Pipe:
        for pipe in self.pipes:
            if pipe.name == name:
                return pipe
        raise NotFound(f"no pipe named {name!r}")

    async def run(self, stop: asyncio.Event) -> None:
        """Run every pipe until ``stop`` is set, then shut them down cleanly."""
        timeout = self.config.shutdown_timeout_s
        await asyncio.gather(*(pipe.run(stop, timeout) for pipe in self.pipes))

    def status(self) -> dict[str, Any]:
        return {
            "agent_id": self.config.agent_id,
            "version": __version__,
            "uptime_s": round(time.time() - self.started_at, 1),
            "pipes": [pipe.status() for pipe in self.pipes],
        }

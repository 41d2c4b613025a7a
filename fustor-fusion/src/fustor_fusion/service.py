"""The Fusion service object: the served datastores, the key checker and the background tick.

It is what the routes reach through ``request.app.state.fusion``; the HTTP layer stays thin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pluggy

from fustor_core.errors import NotFound
from fustor_core.logs import log_event
from fustor_fusion.auth import KeyChecker
from fustor_fusion.config import DatastoreConfig, FusionConfig
from fustor_fusion.datastore import Datastore
from fustor_fusion.registry_link import RegistryLink

logger = logging.getLogger(__name__)


class FusionService:
    """Datastores by name, plus the periodic housekeeping that keeps them honest."""

    def __init__(
        self,
        config: FusionConfig,
        *,
        pm: pluggy.PluginManager,
        key_checker: KeyChecker,
        now: Callable[[], float],
    ) -> None:
        self.config = config
        self.pm = pm
        self.now = now
        self.datastores = {
            name: Datastore(name, settings, config, pm=pm, now=now)
            for name, settings in config.datastores.items()
        }
        self.ticking = False
        self.registry: RegistryLink | None = None
        if config.registry is not None:
            self.registry = RegistryLink(
                config.registry, static=key_checker if config.datastores else None, adopt=self.adopt
            )
        self.key_checker: KeyChecker = self.registry if self.registry is not None else key_checker

    def adopt(self, name: str) -> Datastore:
        """Serve datastore ``name`` from now on (the Registry says it exists); idempotent."""
        datastore = self.datastores.get(name)
        if datastore is None:
            datastore = Datastore(name, DatastoreConfig(), self.config, pm=self.pm, now=self.now)
            self.datastores[name] = datastore
            log_event(logger, logging.INFO, "serving datastore from the registry", datastore=name)
        return datastore

    def datastore(self, name: str) -> Datastore:
        """The datastore ``name``; 404 when this Fusion does not serve it."""
        datastore = self.datastores.get(name)
        if datastore is None:
            raise NotFound(f"datastore {name!r} is not served by this Fusion", code="datastore_not_found")
        return datastore

    async def tick(self) -> None:
        """One round of housekeeping over every datastore."""
        if self.registry is not None:
            await self.registry.refresh(self.now())
        for datastore in self.datastores.values():
            async with datastore.write_lock:
                datastore.tick()

    async def run_ticks(self) -> None:
        """Tick every ``tick_interval_s`` until cancelled; a failing tick is logged, not fatal."""
        self.ticking = True
        try:
            while True:
                await asyncio.sleep(self.config.tick_interval_s)
                try:
                    await self.tick()
                except Exception:
                    logger.exception("tick failed")
        finally:
            self.ticking = False
            if self.registry is not None:
                await self.registry.aclose()

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
from fustor_fusion.config import FusionConfig
from fustor_fusion.datastore import Datastore

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
        self.key_checker = key_checker
        self.now = now
        self.datastores = {
            name: Datastore(name, settings, config, pm=pm, now=now)
            for name, settings in config.datastores.items()
        }
        self.ticking = False

    def datastore(self, name: str) -> Datastore:
        """The datastore ``name``; 404 when this Fusion does not serve it."""
        datastore = self.datastores.get(name)
        if datastore is None:
            raise NotFound(f"datastore {name!r} is not served by this Fusion", code="datastore_not_found")
        return datastore

    async def tick(self) -> None:
        """One round of housekeeping over every datastore."""
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
            log_event(logger, logging.DEBUG, "tick stopped")

"""Fusion under a Registry: keys checked there (after the static ones), datastores adopted from it.

A key the Registry vouches for names a datastore; if this Fusion does not serve it yet, it starts
to (the Registry is the source of truth for which datastores exist). The list of datastores is
also fetched at start and every ``refresh_interval_s``, so views exist before the first agent
connects.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fustor_core.errors import Unauthorized
from fustor_core.logs import log_event
from fustor_fusion.auth import KeyChecker, KeyGrant
from fustor_fusion.config import RegistryLinkConfig
from fustor_fusion.registry_keys import RegistryKeyChecker

logger = logging.getLogger(__name__)


class RegistryLink:
    """The key checker of a Registry-managed Fusion and the datastore list refresher."""

    def __init__(
        self, config: RegistryLinkConfig, *, static: KeyChecker | None, adopt: Callable[[str], object]
    ) -> None:
        self.config = config
        self.registry = RegistryKeyChecker(config.url, config.service_token, ttl_s=config.cache_ttl_s)
        self._static = static
        self._adopt = adopt
        self._next_refresh = 0.0

    async def check(self, key: str) -> KeyGrant:
        """Static keys first (they need no network), then the Registry."""
        if self._static is not None:
            try:
                return await self._static.check(key)
            except Unauthorized:
                pass
        grant = await self.registry.check(key)
        self._adopt(grant.datastore)
        return grant

    async def refresh(self, now: float) -> None:
        """Adopt the Registry's datastores, at most once per refresh interval; failures are logged
        and retried at the next tick, never fatal (keys of known datastores keep working)."""
        if now < self._next_refresh:
            return
        self._next_refresh = now + self.config.refresh_interval_s
        try:
            datastores = await self.registry.datastores(self.config.fusion_url)
        except Exception as exc:
            self._next_refresh = now + min(5.0, self.config.refresh_interval_s)
            log_event(
                logger,
                logging.WARNING,
                "cannot list the Registry's datastores",
                url=self.config.url,
                error=str(exc),
            )
            return
        for datastore in datastores:
            self._adopt(datastore.name)

    async def aclose(self) -> None:
        await self.registry.aclose()

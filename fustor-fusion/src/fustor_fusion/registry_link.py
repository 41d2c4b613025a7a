"""Fusion under a Registry: keys checked there (after the static ones), datastores adopted from it.

A key the Registry vouches for names a datastore; if this Fusion does not serve it yet, it starts
to (the Registry is the source of truth for which datastores exist). The list of datastores is
also fetched at start and every ``refresh_interval_s``, so views exist before the first agent
connects.

A node of a cluster (``cluster:`` beside ``registry:``) also asks for the datastores placed on it
(``node_id``), and reports itself every ``report_interval_s`` — its advertised URL and the views
it owns and serves — so the Registry can send agents to the owner of their datastore and list the
cluster's nodes. :meth:`RegistryLink.report_soon` makes the next tick report at once (after a
change of owner, agents asking the Registry should not wait for the next period).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from fustor_core.errors import Unauthorized
from fustor_core.logs import log_event
from fustor_fusion.auth import KeyChecker, KeyGrant
from fustor_fusion.config import RegistryLinkConfig
from fustor_fusion.registry_keys import RegistryKeyChecker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ClusterNode:
    """Who this Fusion is in a cluster, as it reports itself to the Registry."""

    node_id: str
    advertise_url: str
    views: Callable[[], tuple[list[str], list[str]]]
    """The names of the datastores whose view this node owns, and of those it serves, now."""


class RegistryLink:
    """The key checker of a Registry-managed Fusion and the datastore list refresher."""

    def __init__(
        self,
        config: RegistryLinkConfig,
        *,
        static: KeyChecker | None,
        adopt: Callable[[str], object],
        node: ClusterNode | None = None,
    ) -> None:
        self.config = config
        self.registry = RegistryKeyChecker(config.url, config.service_token, ttl_s=config.cache_ttl_s)
        self._static = static
        self._adopt = adopt
        self.node = node
        self._next_refresh = 0.0
        self._next_report = 0.0

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
        """Adopt the Registry's datastores, at most once per refresh interval, and report this
        node of a cluster once per report interval; failures are logged and retried at the next
        tick, never fatal (keys of known datastores keep working)."""
        await self._refresh_datastores(now)
        if self.node is not None and now >= self._next_report:
            await self._report(now, self.node)

    def report_soon(self) -> None:
        """Report this node at the next :meth:`refresh` (e.g. it just took a view over)."""
        self._next_report = 0.0

    async def _refresh_datastores(self, now: float) -> None:
        if now < self._next_refresh:
            return
        self._next_refresh = now + self.config.refresh_interval_s
        try:
            datastores = await self.registry.datastores(
                self.config.fusion_url, node_id=self.node.node_id if self.node else None
            )
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

    async def _report(self, now: float, node: ClusterNode) -> None:
        self._next_report = now + self.config.report_interval_s
        owned, serving = node.views()
        try:
            await self.registry.report_node(node.node_id, node.advertise_url, owned, serving)
        except Exception as exc:
            self._next_report = now + min(2.0, self.config.report_interval_s)
            log_event(
                logger,
                logging.WARNING,
                "cannot report this node to the Registry",
                url=self.config.url,
                node=node.node_id,
                error=str(exc),
            )

    async def aclose(self) -> None:
        await self.registry.aclose()

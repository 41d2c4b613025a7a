"""The Fusion service object: the served datastores, the key checker and the background tick.

It is what the routes reach through ``request.app.state.fusion``; the HTTP layer stays thin.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

import pluggy
from pydantic import BaseModel

from fustor_core.cluster import SharedJournal
from fustor_core.errors import ConfigError, NotFound, PluginError
from fustor_core.journal import Journal
from fustor_core.logs import log_event
from fustor_core.options import log_deprecations
from fustor_fusion.auth import KeyChecker
from fustor_fusion.config import DatastoreConfig, FusionConfig
from fustor_fusion.datastore import Datastore
from fustor_fusion.metrics import FusionCollector, FusionMetrics
from fustor_fusion.registry_link import ClusterNode, RegistryLink
from fustor_fusion.rule_options import RuleOptions

logger = logging.getLogger(__name__)

_NOT_SHARED = "cluster: the journal driver {driver!r} cannot be shared between nodes; use driver: postgres"


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
        self.metrics = FusionMetrics()
        self.collector = FusionCollector(self)
        log_deprecations(logger, config.deprecated_keys(), source="fusion")
        self.rule_options = RuleOptions(config, pm)
        self.datastores = {
            name: self._new_datastore(name, settings, self.rule_options.for_datastore(name, settings))
            for name, settings in config.datastores.items()
        }
        self.ticking = False
        self.large_answers = asyncio.Semaphore(1)
        """Turns for building large query answers, one at a time (see routes.query)."""
        self.registry: RegistryLink | None = None
        if config.registry is not None:
            node = None
            if config.cluster is not None:  # reported to the Registry, which sends agents to owners
                node = ClusterNode(config.cluster.node_id, config.cluster.advertise_url, self.cluster_views)
            self.registry = RegistryLink(
                config.registry,
                static=key_checker if config.datastores else None,
                adopt=self.adopt,
                node=node,
            )
        self.key_checker: KeyChecker = self.registry if self.registry is not None else key_checker
        self.stopping: Callable[[], bool] = lambda: False
        """True once the server began shutting down (set by ``fustor-fusion serve``): long polls
        end then instead of holding the graceful shutdown."""
        self._load_turn = asyncio.Lock()
        self._loads: set[asyncio.Task[None]] = set()

    def _new_datastore(
        self, name: str, settings: DatastoreConfig, rule_options: Mapping[str, BaseModel]
    ) -> Datastore:
        datastore = Datastore(
            name,
            settings,
            self.config,
            pm=self.pm,
            now=self.now,
            journal=self._journal(name),
            rule_options=rule_options,
            observe_batch=self.metrics.batch_seconds.labels(datastore=name).observe,
        )
        if datastore.cluster is not None:
            datastore.cluster.on_role_change = self._role_changed
        return datastore

    def _role_changed(self) -> None:
        """A view changed owner on this node: the Registry hears of it at the next tick, so agents
        that ask it are sent to the new owner without waiting for the report period."""
        if self.registry is not None:
            self.registry.report_soon()

    def _journal(self, name: str) -> Journal | None:
        """The journal plugin's object for datastore ``name`` (None with ``driver: none``); with
        a ``cluster`` section it must be one several nodes can share."""
        settings = self.config.journal
        if self.config.cluster is not None and not settings.enabled:
            raise ConfigError(_NOT_SHARED.format(driver=settings.driver))
        if not settings.enabled:
            return None
        journal: Journal | None = self.pm.hook.fustor_journal(
            datastore=name, driver=settings.driver, options=settings.driver_options()
        )
        if journal is None:
            raise PluginError(
                f"journal.driver: no installed plugin provides the journal driver {settings.driver!r}"
                " (is fustor-journal-sqlite installed? 'driver: none' keeps views in memory only)"
            )
        if self.config.cluster is not None and not isinstance(journal, SharedJournal):
            journal.close()
            raise ConfigError(_NOT_SHARED.format(driver=settings.driver))
        return journal

    def adopt(self, name: str) -> Datastore:
        """Serve datastore ``name`` from now on (the Registry says it exists); idempotent."""
        datastore = self.datastores.get(name)
        if datastore is None:
            datastore = self._new_datastore(name, DatastoreConfig(), self.rule_options.top_level)
            self.datastores[name] = datastore
            log_event(logger, logging.INFO, "serving datastore from the registry", datastore=name)
            self._start_loading(datastore)
        return datastore

    def datastore(self, name: str) -> Datastore:
        """The datastore ``name``; 404 when this Fusion does not serve it, 503 while it loads."""
        datastore = self.datastores.get(name)
        if datastore is None:
            raise NotFound(f"datastore {name!r} is not served by this Fusion", code="datastore_not_found")
        datastore.require_ready()
        return datastore

    # -- loading views ------------------------------------------------------------------------------

    def start_loading(self) -> None:
        """Load every view in the background, one at a time (the service listens meanwhile)."""
        for datastore in list(self.datastores.values()):
            self._start_loading(datastore)

    def _start_loading(self, datastore: Datastore) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving yet: start_loading() picks it up
            return
        if datastore.ready or any(task.get_name() == f"load-{datastore.name}" for task in self._loads):
            return
        task = loop.create_task(self._load(datastore), name=f"load-{datastore.name}")
        self._loads.add(task)
        task.add_done_callback(self._loads.discard)

    async def _load(self, datastore: Datastore) -> None:
        delay = 1.0
        async with self._load_turn:
            while True:
                try:
                    await datastore.load()
                    return
                except Exception as exc:  # e.g. the journal is locked or unreadable: say so, retry
                    datastore.durability.progress = f"cannot load: {exc}; retrying"
                    log_event(
                        logger,
                        logging.ERROR,
                        "view could not be loaded",
                        datastore=datastore.name,
                        error=str(exc),
                    )
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)

    def not_ready(self) -> str | None:
        """Why the service is not ready (which view is loading, how far), or None when it is."""
        loading = [d for d in self.datastores.values() if not d.ready]
        if loading:
            first = loading[0]
            ready = len(self.datastores) - len(loading)
            return (
                f"loading view {first.name!r}: {first.durability.progress}"
                f" ({ready} of {len(self.datastores)} views ready)"
            )
        if not self.ticking:
            return "Fusion is starting or stopping"
        return None

    def cluster_views(self) -> tuple[list[str], list[str]]:
        """The datastores whose view this node owns, and those it serves (loaded), by name."""
        ready = [d for d in list(self.datastores.values()) if d.ready]
        owned = [d.name for d in ready if d.cluster is not None and d.writable]
        return owned, [d.name for d in ready]

    def views(self) -> dict[str, dict[str, object]]:
        """Each view's role, sequence numbers, lag and owner (``/readyz``)."""
        answer: dict[str, dict[str, object]] = {}
        for name, datastore in list(self.datastores.items()):
            role = datastore.describe_role()
            answer[name] = {
                key: role[key]
                for key in ("role", "seq", "journal_seq", "lag_records", "lag_s", "owner", "owner_url")
            }
        return answer

    # -- housekeeping -------------------------------------------------------------------------------

    async def tick(self) -> None:
        """One round of housekeeping over every datastore that is loaded."""
        if self.registry is not None:
            await self.registry.refresh(self.now())
        for datastore in list(self.datastores.values()):
            if datastore.ready and datastore.writable:  # a replica replays its owner's ticks
                await datastore.write(datastore.tick, wait_durable=False)

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

    def stop_feeds(self) -> None:
        """Fusion is stopping: waiting change-feed clients are answered and event streams end
        now, so that they do not hold the server's shutdown (which waits for open requests)."""
        for datastore in list(self.datastores.values()):
            datastore.feed.close()

    async def close(self) -> None:
        """Stop loading, then close every view's journal (pending records, a last snapshot)."""
        for task in list(self._loads):
            task.cancel()
        await asyncio.gather(*self._loads, return_exceptions=True)
        for datastore in list(self.datastores.values()):
            try:
                await datastore.close()
            except Exception:
                logger.exception("closing the journal of %s failed", datastore.name)

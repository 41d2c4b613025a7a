"""The ASGI application factory.

``create_app(config)`` builds an independent Fusion — its own views, sessions, key checker and
tick — so a test can run as many as it needs side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable

import pluggy
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route

from fustor_core.http_errors import ErrorBoundary, exception_handlers
from fustor_core.logs import log_event
from fustor_core.notify import ServiceNotifier
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.auth import KeyChecker, StaticKeyChecker
from fustor_fusion.cluster.routing import refused
from fustor_fusion.cluster.state import NoOwner, NotOwnerRefusal
from fustor_fusion.config import FusionConfig
from fustor_fusion.consistency import with_seq_header
from fustor_fusion.endpoints import Endpoint, strict_query
from fustor_fusion.openapi import build_openapi
from fustor_fusion.routes import changes, ingest, meta, query
from fustor_fusion.service import FusionService
from fustor_fusion.webui import ui_routes

logger = logging.getLogger(__name__)

ENDPOINTS: list[Endpoint] = [*meta.ENDPOINTS, *ingest.ENDPOINTS, *query.ENDPOINTS, *changes.ENDPOINTS]
"""Every route of the API, in the order the OpenAPI document lists them."""


def create_app(
    config: FusionConfig,
    *,
    now: Callable[[], float] = time.time,
    plugin_manager: pluggy.PluginManager | None = None,
    key_checker: KeyChecker | None = None,
    notifier: ServiceNotifier | None = None,
) -> Starlette:
    """A Fusion application for ``config``.

    :param now: Fusion's clock (tests pass a controllable one).
    :param plugin_manager: the plugins to arbitrate with; by default every installed one
        (narrowed by ``FUSTOR_PLUGINS`` / ``FUSTOR_DISABLE_PLUGINS``).
    :param key_checker: where API keys are checked; by default the static keys of ``config``.
    :param notifier: the service manager to tell ``READY=1`` once every view is loaded and the
        tick runs (what ``/readyz`` says), ``WATCHDOG=1`` while the event loop turns and
        ``STOPPING=1`` at shutdown; None (tests) tells nobody.
    """
    service = FusionService(
        config,
        pm=plugin_manager if plugin_manager is not None else get_plugin_manager(),
        key_checker=key_checker if key_checker is not None else StaticKeyChecker.from_config(config),
        now=now,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if service.registry is not None:
            await service.registry.refresh(service.now())
        ticker = asyncio.create_task(service.run_ticks(), name="fusion-tick")
        service.start_loading()  # views load in the background: /readyz says which, and how far
        managed = []
        if notifier is not None:
            status = f"serving {len(service.datastores)} datastore(s)"
            managed = [
                asyncio.create_task(notifier.ready_when(service.not_ready, ready_status=status)),
                asyncio.create_task(notifier.keep_alive(), name="fusion-watchdog"),
            ]
        await asyncio.sleep(0)  # let the tick loop mark the service ready before serving
        try:
            yield
        finally:
            if notifier is not None:
                notifier.stopping()
            for task in (ticker, *managed):
                task.cancel()
            await asyncio.gather(ticker, *managed, return_exceptions=True)
            await service.close()
            log_event(logger, logging.INFO, "fusion stopped")

    timed = service.metrics.requests.timed
    routes: list[BaseRoute] = [
        Route(e.path, timed(e.method, e.path, with_seq_header(strict_query(e))), methods=[e.method])
        for e in ENDPOINTS
    ]
    routes.extend(ui_routes())  # the web view: static files, not part of the API document
    app = Starlette(
        routes=routes,
        middleware=[Middleware(ErrorBoundary, service="Fusion")],
        exception_handlers={
            **exception_handlers(service="Fusion"),
            NotOwnerRefusal: refused,  # 307 to the owner: Location is built from the request
            NoOwner: refused,
        },
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # one URL per resource: a trailing '/' is a JSON 404
    app.state.fusion = service
    app.state.openapi = build_openapi(ENDPOINTS)
    return app

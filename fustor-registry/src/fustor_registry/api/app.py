"""``create_app(config)``: one independent Registry application per call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from fustor_core.http_errors import ErrorBoundary, exception_handlers
from fustor_core.notify import ServiceNotifier
from fustor_registry.api import cluster, datastores, meta, metrics, service, storage, users
from fustor_registry.api.endpoints import Endpoint, Handler
from fustor_registry.api.openapi import build_openapi
from fustor_registry.config import RegistryConfig
from fustor_registry.registry import Registry

ENDPOINTS: list[Endpoint] = [
    *meta.ENDPOINTS,
    *service.ENDPOINTS,  # before the user routes: /keys/verify next to /keys/{key_id}
    *users.ENDPOINTS,
    *datastores.ENDPOINTS,
    *storage.ENDPOINTS,
    *cluster.ENDPOINTS,
    *metrics.ENDPOINTS,
]
"""Every route of the API, in the order the OpenAPI document lists them."""


def create_app(
    config: RegistryConfig, *, registry: Registry | None = None, notifier: ServiceNotifier | None = None
) -> Starlette:
    """Build the app; opens (and migrates) the database unless a ready ``registry`` is given.

    ``notifier`` (the service manager) is told ``READY=1`` once the app serves (the database is
    open and migrated by then), ``WATCHDOG=1`` while the event loop turns, ``STOPPING=1`` at
    shutdown.

    Raises ConfigError before anything listens when the configuration is unusable, e.g. no
    secret key outside demo mode.
    """
    owned = registry is None
    active = registry if registry is not None else Registry.open(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        watchdog = None
        if notifier is not None:
            notifier.ready(f"serving; database {active.db.safe_url}")
            watchdog = asyncio.create_task(notifier.keep_alive(), name="registry-watchdog")
        try:
            yield
        finally:
            if notifier is not None:
                notifier.stopping()
            if watchdog is not None:
                watchdog.cancel()
                await asyncio.gather(watchdog, return_exceptions=True)
            if owned:
                active.close()

    observed = metrics.RegistryMetrics()

    def timed(endpoint: Endpoint) -> Handler:
        return observed.requests.timed(endpoint.method, endpoint.path, endpoint.handler)

    app = Starlette(
        routes=[endpoint.route(timed) for endpoint in ENDPOINTS],
        middleware=[Middleware(ErrorBoundary, service="Registry")],
        exception_handlers=exception_handlers(service="Registry"),
        lifespan=lifespan,
    )
    # a stray trailing slash is a 404 naming the path without it, as on Fusion and the agent
    app.router.redirect_slashes = False
    app.state.registry = active
    app.state.metrics = observed
    app.state.openapi = build_openapi(ENDPOINTS)
    return app

"""``create_app(config)``: one independent Registry application per call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from fustor_registry.api import datastores, service, storage, users
from fustor_registry.api.errors import http_exception
from fustor_registry.config import RegistryConfig
from fustor_registry.registry import Registry

API_PREFIX = "/api/v1"


def create_app(config: RegistryConfig, *, registry: Registry | None = None) -> Starlette:
    """Build the app; opens (and migrates) the database unless a ready ``registry`` is given.

    Raises ConfigError before anything listens when the configuration is unusable, e.g. no
    secret key outside demo mode.
    """
    owned = registry is None
    active = registry if registry is not None else Registry.open(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owned:
                active.close()

    # service routes first: /keys/verify must not be shadowed by /keys/{key_id}
    routes = service.routes + users.routes + datastores.routes + storage.routes
    app = Starlette(
        routes=[Mount(API_PREFIX, routes=routes)],
        exception_handlers={HTTPException: http_exception},
        lifespan=lifespan,
    )
    app.state.registry = active
    return app

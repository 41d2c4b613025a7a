"""``create_app(config)``: one independent Registry application per call."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route

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

    async def healthz(request: Request) -> Response:
        """Liveness: the process answers (same contract as Fusion and the agent)."""
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        """Readiness: the database answers a trivial query."""
        try:
            await run_in_threadpool(active.read, lambda connection: connection.execute(text("SELECT 1")))
        except Exception:
            return JSONResponse({"error": {"code": "not_ready", "message": "database unreachable"}}, 503)
        return JSONResponse({"status": "ready"})

    app = Starlette(
        routes=[Route("/healthz", healthz), Route("/readyz", readyz), Mount(API_PREFIX, routes=routes)],
        exception_handlers={HTTPException: http_exception},
        lifespan=lifespan,
    )
    app.state.registry = active
    return app

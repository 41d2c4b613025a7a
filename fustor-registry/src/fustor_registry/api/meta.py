"""Liveness, readiness and the API document (no credential needed)."""

from __future__ import annotations

from sqlalchemy import text
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fustor_registry.api.answers import Ready, Status
from fustor_registry.api.calls import registry_of
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.api.errors import error_response
from fustor_registry.api.responses import JSONResponse


async def healthz(request: Request) -> Response:
    """Liveness: the process answers (same contract as Fusion and the agent)."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Readiness: the database answers a trivial query."""
    registry = registry_of(request)
    try:
        await run_in_threadpool(registry.read, lambda connection: connection.execute(text("SELECT 1")))
    except Exception:
        return error_response(503, "not_ready", "database unreachable")
    return JSONResponse({"status": "ready"})


async def openapi(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", None, Status),
    Endpoint("GET", "/readyz", readyz, "Readiness (the database answers)", None, Ready, errors=(503,)),
    Endpoint("GET", "/api/v1/openapi.json", openapi, "This API as an OpenAPI 3.1 document", None),
]

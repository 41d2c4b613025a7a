"""Endpoints for machines: key verification and datastore listing for Fusion (service token),
and the agent bootstrap (ingest key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_core.errors import Unauthorized
from fustor_registry.api.calls import (
    anonymous,
    as_service,
    as_service_reading,
    query_param,
    read_body,
    registry_of,
)
from fustor_registry.api.errors import endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import KeyVerifyRequest, parse_body
from fustor_registry.services import datastores, keys

MAX_KEY_CHARS = 512


@endpoint
async def verify_key(request: Request) -> Response:
    raw = await read_body(request)
    answer = await as_service_reading(
        request, lambda connection: keys.verify_key(connection, parse_body(KeyVerifyRequest, raw).key)
    )
    return JSONResponse(answer)


@endpoint
async def service_datastores(request: Request) -> Response:
    fusion_url = query_param(request, "fusion_url")
    answer = await as_service(request, lambda session: datastores.service_datastores(session, fusion_url))
    return JSONResponse({"datastores": answer})


@endpoint
async def agent_bootstrap(request: Request) -> Response:
    key = request.headers.get("x-api-key", "")
    if not key or len(key) > MAX_KEY_CHARS:
        raise Unauthorized("missing or invalid X-API-Key header")
    datastore = query_param(request, "datastore")
    box = registry_of(request).box
    answer = await anonymous(request, lambda session: keys.agent_bootstrap(session, key, datastore, box))
    return JSONResponse(answer)


@endpoint
async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


routes = [
    Route("/keys/verify", verify_key, methods=["POST"]),
    Route("/service/datastores", service_datastores, methods=["GET"]),
    Route("/agent/bootstrap", agent_bootstrap, methods=["GET"]),
    Route("/health", health, methods=["GET"]),
]

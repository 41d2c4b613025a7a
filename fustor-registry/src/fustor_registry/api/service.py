"""Endpoints for machines: key verification and datastore listing for Fusion (service token),
and the agent bootstrap (ingest key)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import NotFound, Unauthorized
from fustor_registry.api.answers import Bootstrap, KeyVerdict, ServiceDatastoreList, Status
from fustor_registry.api.calls import (
    anonymous,
    as_service,
    as_service_reading,
    query_param,
    read_body,
    registry_of,
)
from fustor_registry.api.endpoints import Endpoint, QueryParam
from fustor_registry.api.metrics import metrics_of
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import KeyVerifyRequest, parse_body
from fustor_registry.services import datastores, keys

MAX_KEY_CHARS = 512


async def verify_key(request: Request) -> Response:
    raw = await read_body(request)
    verifications = metrics_of(request).verifications
    try:
        answer = await as_service_reading(
            request, lambda connection: keys.verify_key(connection, parse_body(KeyVerifyRequest, raw).key)
        )
    except NotFound as refused:
        verifications[refused.code] += 1
        raise
    verifications["valid"] += 1
    return JSONResponse(answer)


async def service_datastores(request: Request) -> Response:
    fusion_url = query_param(request, "fusion_url")
    node_id = query_param(request, "node_id")
    answer = await as_service(
        request, lambda session: datastores.service_datastores(session, fusion_url, node_id)
    )
    return JSONResponse({"datastores": answer})


async def agent_bootstrap(request: Request) -> Response:
    key = request.headers.get("x-api-key", "")
    if not key or len(key) > MAX_KEY_CHARS:
        raise Unauthorized("missing or invalid X-API-Key header")
    datastore = query_param(request, "datastore")
    registry = registry_of(request)
    box, timeout_s = registry.box, registry.config.node_timeout_s
    answer = await anonymous(
        request, lambda session: keys.agent_bootstrap(session, key, datastore, box, timeout_s)
    )
    return JSONResponse(answer)


async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/keys/verify",
        verify_key,
        "Is this API key valid, and for which datastore and scopes? (Fusion)",
        "service",
        KeyVerdict,
        body=KeyVerifyRequest,
        errors=(401, 404, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/service/datastores",
        service_datastores,
        "Datastores for Fusion: all, or those routed to one Fusion URL, or those of one cluster node",
        "service",
        ServiceDatastoreList,
        errors=(401, 422),
        query=(
            QueryParam("fusion_url", "only datastores whose fusion_url is this (trailing / ignored)"),
            QueryParam(
                "node_id",
                "a cluster node: the datastores placed on it, and the unplaced ones (fusion_url still "
                "filters those); never one placed on other nodes only",
            ),
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/agent/bootstrap",
        agent_bootstrap,
        "Where an agent pushes (in a cluster: the live owner of the datastore), and its storage "
        "environment's credentials",
        "ingest_key",
        Bootstrap,
        errors=(401, 403, 422),
        query=(QueryParam("datastore", "the datastore the agent expects its key to be for"),),
    ),
    Endpoint("GET", "/api/v1/health", health, "Liveness", None, Status),
]

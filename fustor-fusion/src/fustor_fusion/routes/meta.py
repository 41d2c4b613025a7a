"""Unauthenticated routes for operators and tools: liveness, readiness, the OpenAPI document."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.http_errors import error_body
from fustor_fusion.api_models import Status
from fustor_fusion.codec import JSONResponse
from fustor_fusion.endpoints import Endpoint, fusion


async def healthz(request: Request) -> Response:
    """The process answers: nothing more is claimed."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready once every datastore's view is loaded (from its journal) and the background tick runs;
    until then 503, naming the view being loaded and how far it got."""
    why = fusion(request).not_ready()
    if why is not None:
        return JSONResponse(error_body("not_ready", why), status_code=503)
    return JSONResponse({"status": "ready"})


async def openapi(request: Request) -> Response:
    """The OpenAPI document, generated once from the route table."""
    return JSONResponse(request.app.state.openapi)


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", None, answer=Status),
    Endpoint(
        "GET", "/readyz", readyz, "Readiness (views loaded, tick running)", None, answer=Status, errors=(503,)
    ),
    Endpoint("GET", "/api/v1/openapi.json", openapi, "This API as an OpenAPI 3.1 document", None),
]

"""Routes for operators and tools: liveness, readiness, the OpenAPI document (no key), and
Prometheus metrics (no key from the loopback interface, a ``query`` key from elsewhere)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.http_errors import error_body
from fustor_core.metrics import CONTENT_TYPE, METRICS_PATH, exposition, from_loopback
from fustor_fusion.api_models import Readiness, Status
from fustor_fusion.auth import authenticate, require
from fustor_fusion.codec import JSONResponse
from fustor_fusion.endpoints import Endpoint, fusion
from fustor_fusion.metrics import OnlyDatastore


async def healthz(request: Request) -> Response:
    """The process answers: nothing more is claimed."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Ready once every datastore's view is loaded (from its journal) and the background tick runs;
    until then 503, naming the view being loaded and how far it got."""
    why = fusion(request).not_ready()
    if why is not None:
        return JSONResponse(error_body("not_ready", why), status_code=503)
    return JSONResponse({"status": "ready", "views": fusion(request).views()})


async def openapi(request: Request) -> Response:
    """The OpenAPI document, generated once from the route table."""
    return JSONResponse(request.app.state.openapi)


async def metrics(request: Request) -> Response:
    """Prometheus metrics. From another host the key's datastore only: a query key reads its own
    datastore, not its neighbours'."""
    service = fusion(request)
    collectors = (service.metrics.registry, service.collector)
    if from_loopback(request):
        return Response(exposition(*collectors), media_type=CONTENT_TYPE)
    grant = await authenticate(request, service.key_checker)
    require(grant, "query")
    return Response(exposition(OnlyDatastore(grant.datastore, collectors)), media_type=CONTENT_TYPE)


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", None, answer=Status),
    Endpoint(
        "GET",
        "/readyz",
        readyz,
        "Readiness (views loaded, tick running), each view's role and lag",
        None,
        answer=Readiness,
        errors=(503,),
    ),
    Endpoint("GET", "/api/v1/openapi.json", openapi, "This API as an OpenAPI 3.1 document", None),
    Endpoint(
        "GET",
        METRICS_PATH,
        metrics,
        "Prometheus metrics (text exposition format)",
        "query",
        errors=(401, 403),
        media_type=CONTENT_TYPE,
        open_on_loopback=True,
    ),
]

"""The agent's own HTTP API: health, status, its OpenAPI document, and "run a mode now".

Read endpoints are open (they listen on 127.0.0.1 by default); the POST endpoints need
``Authorization: Bearer <api.token>`` and answer 403 while no token is configured. ``GET
/metrics`` (Prometheus) needs nothing from the loopback interface and the bearer token from
anywhere else.
``POST /api/v1/pipes/{name}/{mode}`` runs any mode of the pipe that says it is ``triggerable``
(404 otherwise); it may carry a JSON body with the run's options (:mod:`fustor_agent.triggers`).
Every error answer is ``{"error": {"code", "message"}}`` (:mod:`fustor_core.http_errors`),
unknown routes and trailing slashes included.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_agent.metrics import AgentCollector
from fustor_agent.openapi import build_openapi
from fustor_agent.triggers import parse_options, read_body, trigger_model, triggerable_models
from fustor_core.errors import Forbidden, InvalidInput, Unauthorized
from fustor_core.http_errors import ErrorBoundary, exception_handlers
from fustor_core.metrics import (
    CONTENT_TYPE,
    METRICS_PATH,
    RequestTimer,
    exposition,
    from_loopback,
    new_registry,
)

if TYPE_CHECKING:
    from fustor_agent.agent import Agent


Handler = Callable[[Request], Awaitable[Response]]


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _no_query(handler: Handler) -> Handler:
    """Refuse (422) any query parameter: no route takes one, and a typo must not pass unseen."""

    async def checked(request: Request) -> Response:
        if request.query_params:
            name = next(iter(request.query_params))[:50]
            raise InvalidInput(f"unknown query parameter {name!r} (this route takes none)")
        return await handler(request)

    return checked


def create_app(agent: Agent, *, token: str | None = None) -> Starlette:
    """The ASGI app for one agent."""
    document = build_openapi(triggerable_models(mode for pipe in agent.pipes for mode in pipe.modes))

    def check_token(request: Request) -> None:
        if not token:
            raise Forbidden("the agent API has no token configured (set api.token)")
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("missing or wrong bearer token")

    async def healthz(request: Request) -> Response:
        return _json({"status": "ok"})

    async def status(request: Request) -> Response:
        return _json(agent.status())

    async def openapi(request: Request) -> Response:
        return _json(document)

    registry = new_registry()
    timer = RequestTimer(registry)
    collector = AgentCollector(agent)

    async def metrics(request: Request) -> Response:
        if not from_loopback(request):
            check_token(request)
        return Response(exposition(registry, collector), media_type=CONTENT_TYPE)

    async def trigger(request: Request) -> Response:
        mode = request.path_params["mode"]
        check_token(request)
        pipe = agent.pipe(request.path_params["name"])
        options = parse_options(trigger_model(pipe.triggerable_mode(mode)), await read_body(request))
        pipe.trigger(mode, options)
        return _json({"pipe": request.path_params["name"], "mode": mode, "triggered": True, **options}, 202)

    app = Starlette(
        routes=[
            Route(path, timer.timed(methods[0], path, _no_query(handler)), methods=methods)
            for path, handler, methods in (
                ("/healthz", healthz, ["GET"]),
                ("/api/v1/status", status, ["GET"]),
                ("/api/v1/openapi.json", openapi, ["GET"]),
                (METRICS_PATH, metrics, ["GET"]),
                ("/api/v1/pipes/{name}/{mode}", trigger, ["POST"]),
            )
        ],
        middleware=[Middleware(ErrorBoundary, service="agent")],
        exception_handlers=exception_handlers(service="agent"),
    )
    app.router.redirect_slashes = False  # one URL per resource: a trailing '/' is a JSON 404
    return app

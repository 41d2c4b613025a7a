"""The agent's own HTTP API: health, status, and "run an audit/snapshot now".

Read endpoints are open (they listen on 127.0.0.1 by default); the POST endpoints need
``Authorization: Bearer <api.token>`` and answer 403 while no token is configured.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_core.errors import Forbidden, FustorError, Unauthorized

if TYPE_CHECKING:
    from fustor_agent.agent import Agent

TRIGGERABLE = ("audit", "snapshot")


def _json(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _error(exc: FustorError) -> Response:
    return _json({"error": {"code": exc.code, "message": exc.message}}, exc.status)


def create_app(agent: Agent, *, token: str | None = None) -> Starlette:
    """The ASGI app for one agent."""

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

    async def trigger(request: Request) -> Response:
        mode = request.path_params["mode"]
        try:
            check_token(request)
            if mode not in TRIGGERABLE:
                return _json({"error": {"code": "not_found", "message": f"no action {mode!r}"}}, 404)
            agent.pipe(request.path_params["name"]).trigger(mode)
        except FustorError as exc:
            return _error(exc)
        return _json({"pipe": request.path_params["name"], "mode": mode, "triggered": True}, 202)

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/api/v1/status", status),
            Route("/api/v1/pipes/{name}/{mode}", trigger, methods=["POST"]),
        ]
    )

"""Every error answer Fusion gives, mapped in this one place.

Code anywhere below the routes raises :class:`fustor_core.errors.FustorError` subclasses, which
carry their HTTP status and a short machine-readable code; this module turns them, Starlette's
routing errors and anything unexpected into ``{"error": {"code", "message"}}``. An unexpected
exception is logged with a reference id and answered 500 without its stack trace.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fustor_core.errors import FustorError
from fustor_core.logs import log_event
from fustor_fusion.codec import JSONResponse, dumps

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
}


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON shape of every error answer."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


async def handle_fustor_error(request: Request, exc: Exception) -> Response:
    """A deliberate error: its status and code say what the client did wrong."""
    assert isinstance(exc, FustorError)
    if exc.status >= 500:
        log_event(
            logger, logging.ERROR, "request failed", path=request.url.path, code=exc.code, error=exc.message
        )
    return error_response(exc.status, exc.code, exc.message)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (unknown route, wrong method) in Fustor's error shape."""
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "error")
    if exc.status_code == 404:
        message = f"no route {request.url.path!r}"
    elif exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path!r}"
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


EXCEPTION_HANDLERS = {FustorError: handle_fustor_error, HTTPException: handle_http_exception}
"""Handlers for Starlette's ExceptionMiddleware."""


class ErrorBoundary:
    """Outermost guard: an exception nobody handled becomes a logged 500 with a JSON body.

    Starlette's own last-resort handler re-raises after answering (so servers print the trace);
    this one answers and logs once, with a reference the operator can find in the log.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception:
            reference = uuid.uuid4().hex[:12]
            logger.exception(
                "unhandled error", extra={"fields": {"path": scope.get("path"), "ref": reference}}
            )
            if started:
                raise
            body = dumps(
                error_body("internal_error", f"internal error (ref {reference}); see the Fusion log")
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})

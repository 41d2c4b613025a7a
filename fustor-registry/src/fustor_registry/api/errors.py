"""The one place where failures become HTTP answers: ``{"error": {"code", "message"}}``.

Every handler is wrapped by :func:`endpoint`, so a FustorError keeps its status and message and
anything unexpected becomes a bare 500 — logged with its traceback, never sent to the caller.
Routing failures (no such path, wrong method, a stray trailing slash) get the same JSON shape
from :data:`EXCEPTION_HANDLERS`, and :class:`ErrorBoundary` catches whatever escapes the app.
A client that goes away mid-request is logged as exactly that: one line, no traceback.
"""

from __future__ import annotations

import functools
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fustor_core.errors import FustorError, TooManyRequests
from fustor_core.logs import log_event
from fustor_registry.api.responses import JSONResponse

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "invalid",
    429: "too_many_requests",
}
CLIENT_GONE = 499
"""Status noted for a request whose client disconnected (nobody receives the answer)."""


class Throttled(TooManyRequests):
    """429 that tells the caller when to come back (sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON shape of every error answer."""
    return {"error": {"code": code, "message": message}}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def fustor_error_response(exc: FustorError) -> Response:
    headers = None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    if exc.status >= 500:
        return error_response(exc.status, exc.code, "internal error")
    return error_response(exc.status, exc.code, exc.message, headers)


def client_gone() -> Response:
    """The answer to a client that went away mid-request: nobody reads it (and
    :class:`ErrorBoundary` has logged the disconnect already)."""
    return Response(status_code=CLIENT_GONE)


def endpoint(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except FustorError as exc:
            if exc.status >= 500:
                log_event(
                    logger,
                    logging.ERROR,
                    "request failed",
                    path=request.url.path,
                    code=exc.code,
                    reason=exc.message,
                )
            return fustor_error_response(exc)
        except ClientDisconnect:
            return client_gone()
        except Exception:
            logger.exception("unexpected error", extra={"fields": {"path": request.url.path}})
            return error_response(500, "internal_error", "internal error")

    return guarded


async def http_exception(request: Request, exc: Exception) -> Response:
    """Router-level failures (unknown path, wrong method) in the same JSON shape.

    A path that exists without its trailing slash gets a 307 to it — with a JSON body too.
    """
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        without_slash = _existing_path_without_slash(request)
        if without_slash is not None:
            location = str(request.url.replace(path=without_slash))
            return error_response(
                307,
                "redirect",
                f"no route {request.url.path!r}; the resource is at {without_slash!r}",
                headers={"Location": location},
            )
        return error_response(404, "not_found", f"no route {request.url.path!r}")
    code = HTTP_CODES.get(exc.status_code, "error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        message = f"method {request.method} not allowed on {request.url.path!r}"
        headers["Allow"] = ", ".join(_allowed_methods(request))
    else:
        message = str(exc.detail)
    return error_response(exc.status_code, code, message, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def _existing_path_without_slash(request: Request) -> str | None:
    path = request.url.path
    if not path.endswith("/") or path == "/":
        return None
    candidate = dict(request.scope, path=path.rstrip("/") or "/")
    for route in request.app.router.routes:
        match, _ = route.matches(candidate)
        if match is not Match.NONE:
            return str(candidate["path"])
    return None


EXCEPTION_HANDLERS: dict[Any, Callable[[Request, Exception], Awaitable[Response]]] = {
    HTTPException: http_exception
}
"""Handlers for Starlette's ExceptionMiddleware."""


class ErrorBoundary:
    """Outermost guard: an exception nobody handled becomes a logged 500 with a JSON body, and a
    client that goes away before its answer is complete is logged as that — one line.

    Starlette's own last-resort handler answers text/plain and re-raises (so the server prints
    the trace again); this one answers JSON and logs once, with a reference the operator can
    find. A disconnect is seen where it arrives (the ASGI ``http.disconnect`` message), whether
    the app was still reading the body or already sending the answer.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = complete = gone = False

        async def guarded_receive() -> Message:
            nonlocal gone
            message = await receive()
            if message["type"] == "http.disconnect" and not complete and not gone:
                gone = True
                log_event(
                    logger,
                    logging.INFO,
                    "client disconnected before the answer",
                    method=scope.get("method"),
                    path=scope.get("path"),
                    answer="partly sent" if started else "not sent",
                )
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started, complete
            if message["type"] == "http.response.start":
                started = True
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except ClientDisconnect:
            pass  # logged when the disconnect arrived
        except Exception:
            reference = uuid.uuid4().hex[:12]
            logger.exception(
                "unhandled error", extra={"fields": {"path": scope.get("path"), "ref": reference}}
            )
            if started:
                return  # half an answer is out: the server closes the connection
            response = error_response(500, "internal_error", f"internal error (ref {reference})")
            await response(scope, receive, send)

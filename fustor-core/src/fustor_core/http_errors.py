"""The one JSON error contract of every Fustor HTTP service, and the one place it is produced.

Every error answer of Fusion, the agent API and the Registry is::

    {"error": {"code": "<machine-readable>", "message": "<for a human>"}}   # application/json

Code anywhere below the routes raises :class:`fustor_core.errors.FustorError` subclasses (each
carries its HTTP status and code); a service hands :func:`exception_handlers` to its Starlette
app and wraps the app in :class:`ErrorBoundary`, and from then on every refusal is in this shape:
its own errors, the framework's (unknown route, wrong method) and anything unexpected (a logged
500 with a reference, never a stack trace).

This module imports no web framework: the answers are plain ASGI callables, which is what
Starlette's exception handlers may return, so core stays free of server dependencies.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fustor_core.errors import FustorError
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
    504: "timeout",
}
"""The ``code`` of an error that carries only an HTTP status (the framework's refusals)."""

Scope = Mapping[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]


def error_body(code: str, message: str) -> dict[str, Any]:
    """The JSON object of every error answer."""
    return {"error": {"code": code, "message": message}}


def error_bytes(code: str, message: str) -> bytes:
    """:func:`error_body` encoded; ASCII-only, so any message (even a lone surrogate) encodes."""
    return json.dumps(error_body(code, message), ensure_ascii=True).encode("ascii")


class ErrorResponse:
    """An ASGI app that answers one error in the contract's shape (what handlers return)."""

    media_type = "application/json"

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status_code = status
        self.body = error_bytes(code, message)
        self.headers = dict(headers or {})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raw = [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())]
        raw.extend(
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()
        )
        await send({"type": "http.response.start", "status": self.status_code, "headers": raw})
        await send({"type": "http.response.body", "body": self.body})


def fustor_error_response(exc: FustorError, *, service: str = "service") -> ErrorResponse:
    """The answer for a deliberate error: its status and code say what the client did wrong.

    A 500 never shows its message (it may describe internals): it is logged with a reference
    that the answer names. Other 5xx (503: a dependency is down) are deliberate and say why, and
    are logged too. An error may carry response headers in a ``headers`` attribute (e.g.
    ``Retry-After`` on a 429).
    """
    headers = getattr(exc, "headers", None)
    if exc.status >= 500:
        reference = _reference()
        log_event(logger, logging.ERROR, "request failed", code=exc.code, error=exc.message, ref=reference)
        if exc.status == 500:
            return ErrorResponse(500, exc.code, f"internal error (ref {reference}); see the {service} log")
    return ErrorResponse(exc.status, exc.code, exc.message, headers)


def http_error_response(
    status: int, detail: str | None, path: str, method: str, headers: Any = None
) -> ErrorResponse:
    """The answer for a refusal that carries only a status: an unknown route, a wrong method..."""
    code = HTTP_CODES.get(status, "error")
    if status == 404:
        message = f"no route {path!r}"
        if path.endswith("/") and path != "/":
            message += f" (URLs have no trailing '/': try {path.rstrip('/')!r})"
    elif status == 405:
        message = f"method {method} not allowed on {path!r}"
    else:
        message = detail or code.replace("_", " ")
    return ErrorResponse(status, code, message, dict(headers or {}))


def exception_handlers(*, service: str = "service") -> dict[Any, Callable[[Any, Exception], Awaitable[Any]]]:
    """Handlers for Starlette's ``exception_handlers=``: FustorErrors and every HTTP status.

    Starlette looks a handler up by exception class, and for its ``HTTPException`` by status
    code first, so the framework's own refusals (404 unknown route, 405 wrong method...) are
    covered without importing it here.
    """

    async def on_fustor_error(request: Any, exc: Exception) -> ErrorResponse:
        assert isinstance(exc, FustorError)
        return fustor_error_response(exc, service=service)

    async def on_http_status(request: Any, exc: Exception) -> ErrorResponse:
        scope = request.scope
        status = int(getattr(exc, "status_code", 500))
        detail = getattr(exc, "detail", None)
        headers = dict(getattr(exc, "headers", None) or {})
        if status == 405:
            headers["Allow"] = ", ".join(allowed_methods(request))
        return http_error_response(
            status, str(detail) if detail else None, scope.get("path", ""), scope.get("method", ""), headers
        )

    handlers: dict[Any, Callable[[Any, Exception], Awaitable[Any]]] = {FustorError: on_fustor_error}
    handlers.update(dict.fromkeys(range(400, 500), on_http_status))
    return handlers


def allowed_methods(request: Any) -> list[str]:
    """Every method some route serves on the request's path.

    A framework's 405 names the methods of the first route that matched the path only; a
    service that declares one route per method would then advertise a partial ``Allow``.
    Routes are matched by duck typing (``route.matches(scope)`` answering a match whose name is
    not ``NONE``), so core still imports no framework.
    """
    methods: set[str] = set()
    for route in getattr(getattr(request.app, "router", None), "routes", ()):
        match, _ = route.matches(request.scope)
        if getattr(match, "name", "NONE") != "NONE":
            methods.update(getattr(route, "methods", None) or ())
    return sorted(methods)


def is_client_disconnect(exc: BaseException) -> bool:
    """True for the ways a framework reports that the client went away mid-request.

    Starlette raises ``ClientDisconnect`` (recognised by name: core imports no framework); a
    server may surface a reset socket as a :class:`ConnectionError`.
    """
    return isinstance(exc, ConnectionError) or any(
        cls.__name__ == "ClientDisconnect" for cls in type(exc).__mro__
    )


def _reference() -> str:
    return uuid.uuid4().hex[:12]


class ErrorBoundary:
    """Outermost ASGI middleware: what nobody handled becomes one log line and a JSON answer.

    * an unexpected exception is logged once, with its traceback and a reference, and answered
      500 ``internal_error`` naming only the reference;
    * a client that went away (mid-body or mid-answer) is logged as exactly that, one line at
      INFO, without a traceback: it is not a fault of the service;
    * if the answer had already started, the connection is left for the server to close.
    """

    def __init__(self, app: ASGIApp, *, service: str = "service") -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def guarded_send(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        except Exception as exc:
            if is_client_disconnect(exc):
                log_event(
                    logger,
                    logging.INFO,
                    "client disconnected before the answer was sent",
                    path=scope.get("path"),
                    method=scope.get("method"),
                )
                return
            reference = _reference()
            logger.exception(
                "unhandled error", extra={"fields": {"path": scope.get("path"), "ref": reference}}
            )
            if started:
                return
            await ErrorResponse(
                500, "internal_error", f"internal error (ref {reference}); see the {self.service} log"
            )(scope, receive, send)

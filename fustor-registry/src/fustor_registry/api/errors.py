"""The one place where failures become HTTP answers: ``{"error": {"code", "message"}}``.

Every handler is wrapped by :func:`endpoint`, so a FustorError keeps its status and message and
anything unexpected becomes a bare 500 — logged with its traceback, never sent to the caller.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

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


class Throttled(TooManyRequests):
    """429 that tells the caller when to come back (sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


def fustor_error_response(exc: FustorError) -> Response:
    headers = None
    if isinstance(exc, Throttled):
        headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_s)))}
    if exc.status >= 500:
        return error_response(exc.status, exc.code, "internal error")
    return error_response(exc.status, exc.code, exc.message, headers)


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
        except Exception:
            logger.exception("unexpected error", extra={"fields": {"path": request.url.path}})
            return error_response(500, "internal_error", "internal error")

    return guarded


async def http_exception(request: Request, exc: Exception) -> Response:
    """Router-level failures (unknown path, wrong method) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "error")
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))

"""The Registry's refusals beyond the shared contract.

Every error answer is ``{"error": {"code", "message"}}``, produced by
:mod:`fustor_core.http_errors` for all three services: handlers raise
:class:`~fustor_core.errors.FustorError` subclasses, the core exception handlers answer them,
routing refusals and anything unexpected. What remains here is what only the Registry needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from starlette.responses import Response

from fustor_core.errors import TooManyRequests
from fustor_core.http_errors import error_body
from fustor_registry.api.responses import JSONResponse


class Throttled(TooManyRequests):
    """429 that tells the caller when to come back (sent as ``Retry-After``)."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s
        self.headers = {"Retry-After": str(max(1, math.ceil(retry_after_s)))}


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    """An error answer a handler returns rather than raises (a probe's expected 503 is no
    failure of the service, so nothing is logged for it)."""
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)

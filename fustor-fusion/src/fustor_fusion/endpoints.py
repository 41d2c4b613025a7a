"""The route table's vocabulary: one :class:`Endpoint` per route, used twice.

The app builds its Starlette routes from these, and the OpenAPI document is generated from the
very same objects — so the document lists every route by construction, with the pydantic models
that describe its body and answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import InvalidInput, PayloadTooLarge
from fustor_fusion.service import FusionService

Handler = Callable[[Request], Awaitable[Response]]

SMALL_BODY_BYTES = 64 * 1024
"""Limit for bodies that are never large (session open, signals)."""


@dataclass(frozen=True)
class QueryParam:
    """A documented query parameter."""

    name: str
    description: str
    type: str = "string"
    required: bool = False
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    """A regular expression the whole value matches (JSON Schema / ECMA syntax)."""
    enum: tuple[str, ...] | None = None
    """The only values accepted."""


@dataclass(frozen=True)
class Endpoint:
    """One route: how to serve it and how to document it."""

    method: str
    path: str
    handler: Handler
    summary: str
    scope: str | None
    """``ingest``, ``query``, or None for unauthenticated routes."""
    body: type[BaseModel] | None = None
    answer: type[BaseModel] | None = None
    answer_is_list: bool = False
    status: int = 200
    query: tuple[QueryParam, ...] = ()
    errors: tuple[int, ...] = ()
    body_required: bool = True
    description: str = ""
    """What the summary has no room for (paging caveats...), added to the operation's description."""
    media_type: str = "application/json"
    """What a successful answer is (``/metrics`` answers Prometheus text)."""
    open_on_loopback: bool = False
    """No key needed from 127.0.0.1 / ::1; from elsewhere a key with ``scope``."""
    stream_media_type: str | None = None
    """Another media type the answer comes in when the client accepts it (e.g. an event stream)."""


def fusion(request: Request) -> FusionService:
    """The service behind the app handling ``request``."""
    service: FusionService = request.app.state.fusion
    return service


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``max_bytes``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"body: {declared} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"body: more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def strict_query(endpoint: Endpoint) -> Handler:
    """``endpoint``'s handler, refusing (422) query parameters it does not document.

    A misspelt parameter (``dept=3``) must not be silently ignored, just as unknown keys in a
    body or the config are errors.
    """
    known = {param.name for param in endpoint.query}
    handler = endpoint.handler

    async def checked(request: Request) -> Response:
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise InvalidInput(f"unknown query parameter {unknown[0][:50]!r} (this route takes: {allowed})")
        return await handler(request)

    checked.__name__ = getattr(handler, "__name__", "handler")
    return checked

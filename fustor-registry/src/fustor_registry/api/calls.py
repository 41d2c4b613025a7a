"""Per-request plumbing: body limits, bearer tokens, and running units of work off the loop.

Database work is synchronous SQLAlchemy, so every unit runs in Starlette's thread pool. Who the
caller is gets decided inside the same transaction as the work, so a token revoked a moment ago
cannot slip through between the check and the change; and the answer is encoded inside it too
(:func:`~fustor_registry.api.responses.encoded`), so a change is committed only with an answer
that can be sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from fustor_core.errors import InvalidInput, NotFound, PayloadTooLarge, Unauthorized
from fustor_registry.access import Caller
from fustor_registry.api.responses import encoded
from fustor_registry.registry import Registry
from fustor_registry.schemas import is_valid_name
from fustor_registry.services import auth

T = TypeVar("T")

MAX_ROW_ID = 2**31 - 1
MAX_QUERY_CHARS = 2048


def registry_of(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def peer_address(request: Request) -> str:
    """The TCP peer (as the server saw it)."""
    return request.client.host if request.client else "unknown"


def client_address(request: Request) -> str:
    """The client: the peer, or whom a trusted proxy says it forwards (``trusted_proxies``)."""
    return registry_of(request).proxies.client(
        peer_address(request), request.headers.getlist("x-forwarded-for")
    )


async def read_body(request: Request) -> bytes:
    """The raw body, refusing anything above ``max_body_bytes`` (declared or actual)."""
    limit = registry_of(request).config.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def as_user(request: Request, work: Callable[[Session, Caller], Any]) -> orjson.Fragment:
    """Authenticate the bearer token and run ``work`` in one transaction; its answer, encoded."""
    registry = registry_of(request)
    token = bearer_token(request)

    def unit(session: Session) -> orjson.Fragment:
        return encoded(work(session, auth.authenticate(session, token)))

    return await run_in_threadpool(registry.run, unit)


async def as_service(request: Request, work: Callable[[Session], Any]) -> orjson.Fragment:
    """Check the service token, then run ``work`` in one transaction; its answer, encoded."""
    registry = registry_of(request)
    if not registry.is_service_token(bearer_token(request)):
        raise Unauthorized("missing or invalid service token")
    return await run_in_threadpool(registry.run, lambda session: encoded(work(session)))


async def as_service_reading(request: Request, work: Callable[[Connection], T]) -> T:
    """Check the service token, then run read-only ``work`` on a plain connection."""
    registry = registry_of(request)
    if not registry.is_service_token(bearer_token(request)):
        raise Unauthorized("missing or invalid service token")
    return await run_in_threadpool(registry.read, work)


async def anonymous(request: Request, work: Callable[[Session], Any]) -> orjson.Fragment:
    """Run ``work`` in one transaction without a caller; its answer, encoded."""
    return await run_in_threadpool(registry_of(request).run, lambda session: encoded(work(session)))


def path_param(request: Request, name: str) -> str:
    """A record name from the path; one that breaks the naming rules cannot exist, so it is
    answered 404 here (a NUL byte, for one, would make PostgreSQL fail the query)."""
    value: str = request.path_params[name]
    if not is_valid_name(value):
        raise NotFound(f"no record named {value[:64]!r}")
    return value


def row_id(request: Request, name: str) -> int:
    """An integer id from the path; out-of-range ids are simply not found (no DB overflow)."""
    value = int(request.path_params[name])
    if not 0 < value <= MAX_ROW_ID:
        raise NotFound(f"no record with id {value}")
    return value


def query_param(request: Request, name: str) -> str | None:
    value = request.query_params.get(name)
    if value is not None and (len(value) > MAX_QUERY_CHARS or "\x00" in value):
        raise InvalidInput(f"{name}: too long or contains NUL characters")
    return value

"""The route table's vocabulary: one :class:`Endpoint` per route, used twice.

The app builds its Starlette routes from these, and the OpenAPI document is generated from the
very same objects — so the document lists every route by construction, with the request model
the handler parses and the answer model that describes what it sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_registry.api.calls import MAX_QUERY_CHARS, MAX_ROW_ID
from fustor_registry.schemas import NAME_PATTERN, NO_NUL_PATTERN, NODE_ID_PATTERN

Handler = Callable[[Request], Awaitable[Response]]
Auth = Literal["user", "service", "ingest_key", "metrics"]

NAME_SCHEMA: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NAME_PATTERN}
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "name": NAME_SCHEMA,
    "username": NAME_SCHEMA,
    "credential": NAME_SCHEMA,
    "key_id": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
    "node_id": {"type": "string", "pattern": NODE_ID_PATTERN},
}
"""Every path parameter of the API and what it may be; anything else is answered 404."""
INT_PARAMS = frozenset({"key_id"})


@dataclass(frozen=True)
class QueryParam:
    """A documented query parameter (all are optional strings)."""

    name: str
    description: str

    @property
    def schema(self) -> dict[str, Any]:
        return {"type": "string", "maxLength": MAX_QUERY_CHARS, "pattern": NO_NUL_PATTERN}


@dataclass(frozen=True)
class Endpoint:
    """One route: how to serve it and how to document it."""

    method: str
    path: str
    """The OpenAPI path, e.g. ``/api/v1/datastores/{name}``."""
    handler: Handler
    summary: str
    auth: Auth | None
    answer: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[int, ...] = ()
    query: tuple[QueryParam, ...] = ()
    media_type: str = "application/json"
    """What a successful answer is (``/metrics`` answers Prometheus text)."""

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{") and part.endswith("}")]

    def route(self, wrap: Callable[[Endpoint], Handler] | None = None) -> Route:
        """The Starlette route (integer parameters get Starlette's ``:int`` convertor); ``wrap``
        turns the endpoint into the handler served (e.g. timed for the metrics)."""
        path = self.path
        for name in INT_PARAMS.intersection(self.path_params):
            path = path.replace(f"{{{name}}}", f"{{{name}:int}}")
        return Route(path, wrap(self) if wrap is not None else self.handler, methods=[self.method])

"""The OpenAPI 3.1 document of the whole HTTP API, generated from the route table.

Schemas come from the pydantic models named by each :class:`~fustor_fusion.endpoints.Endpoint`
(OpenAPI 3.1 uses JSON Schema 2020-12, which is what pydantic emits), so the document cannot
drift from the code: an API route exists in the app if and only if it is in this document (the
web view's static files under ``/ui/`` are not API routes and are not listed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fustor_fusion import __version__
from fustor_fusion.api_models import ErrorBody, NotOwnerBody
from fustor_fusion.endpoints import Endpoint

REF = "#/components/schemas/{model}"
_STATUS_TEXT = {
    200: "OK",
    307: "Cluster: another node owns the view; Location is the same request there (method and body"
    " kept), the body names the owner",
    400: "A malformed HTTP request (framing or headers)",
    201: "Created",
    401: "No or unknown API key",
    403: "Key for another datastore, or without the scope",
    404: "Unknown datastore or path",
    409: "Expired session, not the leader, or a seq gap",
    413: "Batch or body too large",
    422: "Malformed body or parameter (the message names the field)",
    429: "Too many open sessions for this key (Retry-After says when to retry)",
    503: "Not ready: a view is loading after a restart, or the Registry cannot be reached; with"
    " fresh=true also: no leader agent that can re-list the path (the message says which);"
    " cluster: no node owns the view right now (no_owner, Retry-After)",
    504: "fresh=true: the leader agent did not finish re-listing the path within the timeout;"
    " min_seq: the view did not reach that record in time (min_seq_timeout)",
}
LENIENT_ARRAYS = {"Event": "rows", "SentinelFeedbackRequest": "updates"}
"""Arrays whose malformed items are dropped one by one — counted in the answer's ``reasons`` as
``invalid: <field>: <why>`` — instead of refusing the request: the document says so by
accepting any item (``anyOf: [<the shape that is applied>, {}]``)."""


def build_openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The document for ``endpoints``."""
    models: set[type[BaseModel]] = {ErrorBody, NotOwnerBody}
    for endpoint in endpoints:
        models.update(m for m in (endpoint.body, endpoint.answer) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    modes = [(m, "validation") for m in ordered] + [(m, "serialization") for m in ordered]
    refs, top = models_json_schema(modes, ref_template=REF)  # type: ignore[arg-type]
    schemas = top.get("$defs", {})
    for model_name, field in LENIENT_ARRAYS.items():
        array = schemas[model_name]["properties"][field]
        array["items"] = {
            "anyOf": [array["items"], {}],
            "description": "an item of another shape is dropped with reason 'invalid: <field>: <why>'",
        }
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fustor Fusion",
            "version": __version__,
            "description": "Ingest, arbitrated live tree and query API (see fustor-fusion/README.md).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        },
    }


def _operation(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    name = getattr(endpoint.handler, "__name__", "handler")
    operation: dict[str, Any] = {
        "operationId": f"{endpoint.method.lower()}_{name}",
        "summary": endpoint.summary,
        "tags": ["meta" if endpoint.open_on_loopback else endpoint.scope or "meta"],
        "responses": _responses(endpoint, refs),
    }
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _path_params(endpoint.path)
    ]
    for param in endpoint.query:
        schema: dict[str, Any] = {"type": param.type}
        if param.default is not None:
            schema["default"] = param.default
        if param.minimum is not None:
            schema["minimum"] = param.minimum
        if param.maximum is not None:
            schema["maximum"] = param.maximum
        if param.min_length is not None:
            schema["minLength"] = param.min_length
        if param.max_length is not None:
            schema["maxLength"] = param.max_length
        if param.pattern is not None:
            schema["pattern"] = param.pattern
        if param.enum is not None:
            schema["enum"] = list(param.enum)
        parameters.append(
            {
                "name": param.name,
                "in": "query",
                "required": param.required,
                "description": param.description,
                "schema": schema,
            }
        )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.scope is not None and endpoint.open_on_loopback:
        operation["security"] = [{}, {"apiKey": []}]
        operation["description"] = (
            f"No key needed from the loopback interface; from elsewhere an API key with scope"
            f" `{endpoint.scope}` (which sees its own datastore's figures only)."
        )
    elif endpoint.scope is not None:
        operation["security"] = [{"apiKey": []}]
        operation["description"] = f"Needs an API key with scope `{endpoint.scope}`."
    if endpoint.description:
        known = operation.get("description")
        operation["description"] = f"{known} {endpoint.description}" if known else endpoint.description
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": endpoint.body_required,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    return operation


def _responses(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(endpoint.status, "OK")}
    if endpoint.answer is not None:
        schema = refs[(endpoint.answer, "serialization")]
        if endpoint.answer_is_list:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    elif endpoint.media_type != "application/json":
        success["content"] = {endpoint.media_type: {"schema": {"type": "string"}}}
    else:
        success["content"] = {"application/json": {"schema": {"type": "object"}}}
    if endpoint.stream_media_type is not None:
        success["content"][endpoint.stream_media_type] = {"schema": {"type": "string"}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    error_schema = refs[(ErrorBody, "serialization")]
    redirect_schema = refs[(NotOwnerBody, "serialization")]
    # any request can be malformed HTTP; every route with a key may meet a view still loading or
    # an unreachable Registry
    errors = (400, *endpoint.errors) if endpoint.scope is None else (400, *endpoint.errors, 503)
    for status in errors:
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": redirect_schema if status == 307 else error_schema}},
        }
    return responses


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]

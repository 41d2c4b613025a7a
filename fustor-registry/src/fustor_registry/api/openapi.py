"""The OpenAPI 3.1 document of the Registry's HTTP API, generated from the route table.

Request schemas are the pydantic models the handlers parse bodies with (strictly, so the
document's types are the only ones accepted); answer schemas are the models of
:mod:`fustor_registry.api.answers`. A route exists in the app if and only if it is in this
document, with every status it can answer (errors in the one JSON shape, ``ErrorBody``).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from fustor_registry.api.answers import ErrorBody
from fustor_registry.api.endpoints import PATH_PARAMS, Endpoint
from fustor_registry.freejson import json_schema_defs
from fustor_registry.schemas import SCHEMA_REF

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    401: "No, unknown, expired or revoked credential",
    403: "Valid credential without the right role, ownership or scope",
    404: "Unknown record, or no such route",
    405: "Method not allowed on this route (see Allow)",
    409: "Conflicts with an existing record",
    413: "Body larger than max_body_bytes",
    422: "Malformed body or parameter (the message names the field)",
    429: "Too many failed logins (see Retry-After)",
    500: "Internal error (logged; never a stack trace)",
    503: "Not ready (database unreachable)",
}
SECURITY = {
    "user": "userToken",
    "service": "serviceToken",
    "ingest_key": "apiKey",
}
OPTIONAL_SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "metrics": [{}, {"serviceToken": []}, {"apiKey": []}],
}
"""Routes open on the loopback interface, with a credential from anywhere else."""
AUTH_TEXT = {
    "user": "Needs a login token (`POST /api/v1/auth/login`) in `Authorization: Bearer`.",
    "service": "Needs a service token (`service_tokens` in registry.yaml) in `Authorization: Bearer`.",
    "ingest_key": "Needs an API key with the `ingest` scope in `X-API-Key`.",
    "metrics": "No credential from the loopback interface; from elsewhere a service token in"
    " `Authorization: Bearer`, or an API key with the `query` scope in `X-API-Key`.",
}


def build_openapi(endpoints: Sequence[Endpoint]) -> dict[str, Any]:
    """The document for ``endpoints``."""
    models: set[tuple[type[BaseModel], str]] = {(ErrorBody, "serialization")}
    for endpoint in endpoints:
        if endpoint.body is not None:
            models.add((endpoint.body, "validation"))
        if endpoint.answer is not None:
            models.add((endpoint.answer, "serialization"))
    ordered = sorted(models, key=lambda pair: (pair[0].__name__, pair[1]))
    refs, top = models_json_schema(ordered, ref_template=SCHEMA_REF)  # type: ignore[arg-type]
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = _operation(endpoint, refs)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Fustor Registry",
            "version": _version(),
            "description": "Users, datastores, API keys, storage environments and credentials; "
            "key verification for Fusion and the agent bootstrap (see fustor-registry/README.md). "
            'Every error answer is `{"error": {"code", "message"}}`.',
        },
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}) | json_schema_defs(SCHEMA_REF),
            "securitySchemes": {
                "userToken": {"type": "http", "scheme": "bearer", "description": AUTH_TEXT["user"]},
                "serviceToken": {"type": "http", "scheme": "bearer", "description": AUTH_TEXT["service"]},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
        },
    }


def _operation(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "operationId": getattr(endpoint.handler, "__name__", "handler"),
        "summary": endpoint.summary,
        "tags": [endpoint.path.removeprefix("/api/v1/").split("/")[0] or "meta"],
        "responses": _responses(endpoint, refs),
    }
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in endpoint.path_params
    ]
    parameters += [
        {"name": q.name, "in": "query", "required": False, "description": q.description, "schema": q.schema}
        for q in endpoint.query
    ]
    if parameters:
        operation["parameters"] = parameters
    if endpoint.auth in OPTIONAL_SECURITY:
        operation["security"] = OPTIONAL_SECURITY[endpoint.auth]
        operation["description"] = AUTH_TEXT[endpoint.auth]
    elif endpoint.auth is not None:
        operation["security"] = [{SECURITY[endpoint.auth]: []}]
        operation["description"] = AUTH_TEXT[endpoint.auth]
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(endpoint.body, "validation")]}},
        }
    return operation


def _responses(endpoint: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    success: dict[str, Any] = {"description": STATUS_TEXT.get(endpoint.status, "OK")}
    schema = refs[(endpoint.answer, "serialization")] if endpoint.answer is not None else {}
    if endpoint.media_type != "application/json":
        schema = {"type": "string"}
    success["content"] = {endpoint.media_type: {"schema": schema}}
    responses: dict[str, Any] = {str(endpoint.status): success}
    error = {"application/json": {"schema": refs[(ErrorBody, "serialization")]}}
    for status in sorted(set(endpoint.errors)):
        responses[str(status)] = {"description": STATUS_TEXT[status], "content": error}
    return responses


def _version() -> str:
    try:
        return version("fustor-registry")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0"

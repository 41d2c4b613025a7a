"""Datastore and API-key endpoints for users and admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fustor_registry.api.answers import (
    DatastoreDeleted,
    DatastoreList,
    DatastoreView,
    KeyCreated,
    KeyList,
    KeyView,
)
from fustor_registry.api.calls import as_user, path_param, read_body, row_id
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import DatastoreCreate, DatastoreUpdate, KeyCreate, parse_body
from fustor_registry.services import datastores, keys


async def create_datastore(request: Request) -> Response:
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: datastores.create_datastore(
            session, caller, parse_body(DatastoreCreate, raw)
        ),
    )
    return JSONResponse(answer, status_code=201)


async def list_datastores(request: Request) -> Response:
    return JSONResponse({"datastores": await as_user(request, datastores.list_datastores)})


async def get_datastore(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: datastores.get_datastore(session, caller, name))
    )


async def update_datastore(request: Request) -> Response:
    name = path_param(request, "name")
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: datastores.update_datastore(
            session, caller, name, parse_body(DatastoreUpdate, raw)
        ),
    )
    return JSONResponse(answer)


async def delete_datastore(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: datastores.delete_datastore(session, caller, name))
    )


async def create_key(request: Request) -> Response:
    name = path_param(request, "name")
    raw = await read_body(request)
    answer = await as_user(
        request, lambda session, caller: keys.create_key(session, caller, name, parse_body(KeyCreate, raw))
    )
    return JSONResponse(answer, status_code=201)


async def list_datastore_keys(request: Request) -> Response:
    name = path_param(request, "name")
    answer = await as_user(request, lambda session, caller: keys.list_datastore_keys(session, caller, name))
    return JSONResponse({"keys": answer})


async def list_keys(request: Request) -> Response:
    return JSONResponse({"keys": await as_user(request, keys.list_keys)})


async def revoke_key(request: Request) -> Response:
    key_id = row_id(request, "key_id")
    return JSONResponse(
        await as_user(request, lambda session, caller: keys.revoke_key(session, caller, key_id))
    )


ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/datastores",
        create_datastore,
        "Create a datastore (the caller owns it)",
        "user",
        DatastoreView,
        body=DatastoreCreate,
        status=201,
        errors=(401, 403, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/datastores",
        list_datastores,
        "List datastores (admin: all; user: own)",
        "user",
        DatastoreList,
        errors=(401,),
    ),
    Endpoint(
        "GET",
        "/api/v1/datastores/{name}",
        get_datastore,
        "Read a datastore",
        "user",
        DatastoreView,
        errors=(401, 403, 404),
    ),
    Endpoint(
        "PATCH",
        "/api/v1/datastores/{name}",
        update_datastore,
        "Change a datastore",
        "user",
        DatastoreView,
        body=DatastoreUpdate,
        errors=(401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "DELETE",
        "/api/v1/datastores/{name}",
        delete_datastore,
        "Delete a datastore (revokes its keys)",
        "user",
        DatastoreDeleted,
        errors=(401, 403, 404, 409),
    ),
    Endpoint(
        "POST",
        "/api/v1/datastores/{name}/keys",
        create_key,
        "Create an API key (its secret is in this answer only)",
        "user",
        KeyCreated,
        body=KeyCreate,
        status=201,
        errors=(401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/datastores/{name}/keys",
        list_datastore_keys,
        "List a datastore's API keys (prefixes, never secrets)",
        "user",
        KeyList,
        errors=(401, 403, 404),
    ),
    Endpoint(
        "GET",
        "/api/v1/keys",
        list_keys,
        "List API keys (admin: all; user: own datastores')",
        "user",
        KeyList,
        errors=(401,),
    ),
    Endpoint(
        "DELETE",
        "/api/v1/keys/{key_id}",
        revoke_key,
        "Revoke an API key (idempotent)",
        "user",
        KeyView,
        errors=(401, 403, 404, 409),
    ),
]

"""Datastore and API-key endpoints for users and admins."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_registry.api.calls import as_user, path_param, read_body, row_id
from fustor_registry.api.errors import endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import DatastoreCreate, DatastoreUpdate, KeyCreate, parse_body
from fustor_registry.services import datastores, keys


@endpoint
async def create_datastore(request: Request) -> Response:
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: datastores.create_datastore(
            session, caller, parse_body(DatastoreCreate, raw)
        ),
    )
    return JSONResponse(answer, status_code=201)


@endpoint
async def list_datastores(request: Request) -> Response:
    return JSONResponse({"datastores": await as_user(request, datastores.list_datastores)})


@endpoint
async def get_datastore(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: datastores.get_datastore(session, caller, name))
    )


@endpoint
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


@endpoint
async def delete_datastore(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: datastores.delete_datastore(session, caller, name))
    )


@endpoint
async def create_key(request: Request) -> Response:
    name = path_param(request, "name")
    raw = await read_body(request)
    answer = await as_user(
        request, lambda session, caller: keys.create_key(session, caller, name, parse_body(KeyCreate, raw))
    )
    return JSONResponse(answer, status_code=201)


@endpoint
async def list_datastore_keys(request: Request) -> Response:
    name = path_param(request, "name")
    answer = await as_user(request, lambda session, caller: keys.list_datastore_keys(session, caller, name))
    return JSONResponse({"keys": answer})


@endpoint
async def list_keys(request: Request) -> Response:
    return JSONResponse({"keys": await as_user(request, keys.list_keys)})


@endpoint
async def revoke_key(request: Request) -> Response:
    key_id = row_id(request, "key_id")
    return JSONResponse(
        await as_user(request, lambda session, caller: keys.revoke_key(session, caller, key_id))
    )


routes = [
    Route("/datastores", create_datastore, methods=["POST"]),
    Route("/datastores", list_datastores, methods=["GET"]),
    Route("/datastores/{name}", get_datastore, methods=["GET"]),
    Route("/datastores/{name}", update_datastore, methods=["PATCH"]),
    Route("/datastores/{name}", delete_datastore, methods=["DELETE"]),
    Route("/datastores/{name}/keys", create_key, methods=["POST"]),
    Route("/datastores/{name}/keys", list_datastore_keys, methods=["GET"]),
    Route("/keys", list_keys, methods=["GET"]),
    Route("/keys/{key_id:int}", revoke_key, methods=["DELETE"]),
]

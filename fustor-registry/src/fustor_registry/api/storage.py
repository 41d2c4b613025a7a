"""Storage-environment and credential endpoints (writes are admin only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fustor_registry.api.calls import as_user, path_param, read_body, registry_of
from fustor_registry.api.errors import endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import CredentialCreate, CredentialUpdate, StorageEnvironmentCreate, parse_body
from fustor_registry.services import storage


@endpoint
async def create_environment(request: Request) -> Response:
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: storage.create_environment(
            session, caller, parse_body(StorageEnvironmentCreate, raw)
        ),
    )
    return JSONResponse(answer, status_code=201)


@endpoint
async def list_environments(request: Request) -> Response:
    return JSONResponse({"storage_environments": await as_user(request, storage.list_environments)})


@endpoint
async def get_environment(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: storage.get_environment(session, caller, name))
    )


@endpoint
async def delete_environment(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: storage.delete_environment(session, caller, name))
    )


@endpoint
async def create_credential(request: Request) -> Response:
    box = registry_of(request).box
    name = path_param(request, "name")
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: storage.create_credential(
            session, caller, name, parse_body(CredentialCreate, raw), box
        ),
    )
    return JSONResponse(answer, status_code=201)


@endpoint
async def list_credentials(request: Request) -> Response:
    name = path_param(request, "name")
    answer = await as_user(request, lambda session, caller: storage.list_credentials(session, caller, name))
    return JSONResponse({"credentials": answer})


@endpoint
async def update_credential(request: Request) -> Response:
    box = registry_of(request).box
    environment = path_param(request, "name")
    credential = path_param(request, "credential")
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: storage.update_credential(
            session, caller, environment, credential, parse_body(CredentialUpdate, raw), box
        ),
    )
    return JSONResponse(answer)


@endpoint
async def delete_credential(request: Request) -> Response:
    environment = path_param(request, "name")
    credential = path_param(request, "credential")
    answer = await as_user(
        request, lambda session, caller: storage.delete_credential(session, caller, environment, credential)
    )
    return JSONResponse(answer)


routes = [
    Route("/storage-environments", create_environment, methods=["POST"]),
    Route("/storage-environments", list_environments, methods=["GET"]),
    Route("/storage-environments/{name}", get_environment, methods=["GET"]),
    Route("/storage-environments/{name}", delete_environment, methods=["DELETE"]),
    Route("/storage-environments/{name}/credentials", create_credential, methods=["POST"]),
    Route("/storage-environments/{name}/credentials", list_credentials, methods=["GET"]),
    Route("/storage-environments/{name}/credentials/{credential}", update_credential, methods=["PUT"]),
    Route("/storage-environments/{name}/credentials/{credential}", delete_credential, methods=["DELETE"]),
]

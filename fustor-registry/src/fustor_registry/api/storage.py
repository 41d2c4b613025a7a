"""Storage-environment and credential endpoints (writes are admin only)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from fustor_registry.api.answers import (
    CredentialList,
    CredentialView,
    Deleted,
    StorageEnvironmentList,
    StorageEnvironmentView,
)
from fustor_registry.api.calls import as_user, path_param, read_body, registry_of
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import CredentialCreate, CredentialUpdate, StorageEnvironmentCreate, parse_body
from fustor_registry.services import storage


async def create_environment(request: Request) -> Response:
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: storage.create_environment(
            session, caller, parse_body(StorageEnvironmentCreate, raw)
        ),
    )
    return JSONResponse(answer, status_code=201)


async def list_environments(request: Request) -> Response:
    return JSONResponse({"storage_environments": await as_user(request, storage.list_environments)})


async def get_environment(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: storage.get_environment(session, caller, name))
    )


async def delete_environment(request: Request) -> Response:
    name = path_param(request, "name")
    return JSONResponse(
        await as_user(request, lambda session, caller: storage.delete_environment(session, caller, name))
    )


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


async def list_credentials(request: Request) -> Response:
    name = path_param(request, "name")
    answer = await as_user(request, lambda session, caller: storage.list_credentials(session, caller, name))
    return JSONResponse({"credentials": answer})


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


async def delete_credential(request: Request) -> Response:
    environment = path_param(request, "name")
    credential = path_param(request, "credential")
    answer = await as_user(
        request, lambda session, caller: storage.delete_credential(session, caller, environment, credential)
    )
    return JSONResponse(answer)


ENVIRONMENT = "/api/v1/storage-environments/{name}"
CREDENTIAL = ENVIRONMENT + "/credentials/{credential}"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/storage-environments",
        create_environment,
        "Create a storage environment (admin)",
        "user",
        StorageEnvironmentView,
        body=StorageEnvironmentCreate,
        status=201,
        errors=(401, 403, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/storage-environments",
        list_environments,
        "List storage environments",
        "user",
        StorageEnvironmentList,
        errors=(401,),
    ),
    Endpoint(
        "GET",
        ENVIRONMENT,
        get_environment,
        "Read a storage environment",
        "user",
        StorageEnvironmentView,
        errors=(401, 404),
    ),
    Endpoint(
        "DELETE",
        ENVIRONMENT,
        delete_environment,
        "Delete a storage environment and its credentials (admin; 409 while in use)",
        "user",
        Deleted,
        errors=(401, 403, 404, 409),
    ),
    Endpoint(
        "POST",
        ENVIRONMENT + "/credentials",
        create_credential,
        "Store a credential (admin; encrypted at rest)",
        "user",
        CredentialView,
        body=CredentialCreate,
        status=201,
        errors=(401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "GET",
        ENVIRONMENT + "/credentials",
        list_credentials,
        "List an environment's credentials (admin; names only)",
        "user",
        CredentialList,
        errors=(401, 403, 404),
    ),
    Endpoint(
        "PUT",
        CREDENTIAL,
        update_credential,
        "Rotate a credential's secret (admin)",
        "user",
        CredentialView,
        body=CredentialUpdate,
        errors=(401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "DELETE",
        CREDENTIAL,
        delete_credential,
        "Delete a credential (admin)",
        "user",
        Deleted,
        errors=(401, 403, 404, 409),
    ),
]

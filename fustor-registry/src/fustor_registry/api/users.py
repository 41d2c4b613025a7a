"""Login, logout, who-am-I, and user management endpoints."""

from __future__ import annotations

import logging
import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import Unauthorized
from fustor_core.logs import log_event
from fustor_registry.api.answers import LoggedOut, LoginAnswer, UserList, UserView
from fustor_registry.api.calls import (
    as_user,
    client_address,
    path_param,
    peer_address,
    read_body,
    registry_of,
)
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.api.errors import Throttled
from fustor_registry.api.responses import JSONResponse, encoded
from fustor_registry.schemas import LoginRequest, PasswordChange, UserCreate, UserUpdate, parse_body
from fustor_registry.services import auth, users

logger = logging.getLogger(__name__)


async def login(request: Request) -> Response:
    registry = registry_of(request)
    body = parse_body(LoginRequest, await read_body(request))
    address = client_address(request)
    account = body.username.casefold()
    verdict = registry.throttle.check(account, address)
    if verdict.wait_s > 0:
        log_event(
            logger,
            logging.WARNING,
            "login throttled",
            user=body.username,
            client=address,
            **_via(request, address),
            rule=verdict.rule,
            retry_after_s=math.ceil(verdict.wait_s),
        )
        raise Throttled(f"too many failed logins; retry in {math.ceil(verdict.wait_s)} s", verdict.wait_s)
    try:
        answer = await run_in_threadpool(
            registry.run,
            lambda session: encoded(
                auth.login(
                    session, body.username, body.password, registry.passwords, registry.config.token_ttl_s
                )
            ),
        )
    except Unauthorized:
        registry.throttle.record_failure(account, address)
        log_event(
            logger,
            logging.WARNING,
            "login failed",
            user=body.username,
            client=address,
            **_via(request, address),
        )
        raise
    registry.throttle.record_success(account, address)
    log_event(logger, logging.INFO, "login", user=body.username, client=address, **_via(request, address))
    return JSONResponse(answer)


def _via(request: Request, client: str) -> dict[str, str]:
    """``via=<proxy>`` for log lines when the client address came from a trusted proxy's header."""
    peer = peer_address(request)
    return {"via": peer} if peer != client else {}


async def logout(request: Request) -> Response:
    await as_user(request, auth.logout)
    return JSONResponse({"logged_out": True})


async def me(request: Request) -> Response:
    answer = await as_user(request, lambda session, caller: users.get_user(session, caller, caller.username))
    return JSONResponse(answer)


async def create_user(request: Request) -> Response:
    registry = registry_of(request)
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: users.create_user(
            session, caller, parse_body(UserCreate, raw), registry.passwords
        ),
    )
    return JSONResponse(answer, status_code=201)


async def list_users(request: Request) -> Response:
    return JSONResponse({"users": await as_user(request, users.list_users)})


async def get_user(request: Request) -> Response:
    username = path_param(request, "username")
    return JSONResponse(
        await as_user(request, lambda session, caller: users.get_user(session, caller, username))
    )


async def update_user(request: Request) -> Response:
    username = path_param(request, "username")
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: users.update_user(session, caller, username, parse_body(UserUpdate, raw)),
    )
    return JSONResponse(answer)


async def change_password(request: Request) -> Response:
    registry = registry_of(request)
    username = path_param(request, "username")
    raw = await read_body(request)
    answer = await as_user(
        request,
        lambda session, caller: users.change_password(
            session, caller, username, parse_body(PasswordChange, raw), registry.passwords
        ),
    )
    return JSONResponse(answer)


USER = "/api/v1/users/{username}"

ENDPOINTS = [
    Endpoint(
        "POST",
        "/api/v1/auth/login",
        login,
        "Log in: a bearer token for a user name and password",
        None,
        LoginAnswer,
        body=LoginRequest,
        errors=(401, 403, 413, 422, 429),
    ),
    Endpoint(
        "POST", "/api/v1/auth/logout", logout, "Revoke the caller's token", "user", LoggedOut, errors=(401,)
    ),
    Endpoint("GET", "/api/v1/auth/me", me, "The caller", "user", UserView, errors=(401,)),
    Endpoint(
        "POST",
        "/api/v1/users",
        create_user,
        "Create a user (admin)",
        "user",
        UserView,
        body=UserCreate,
        status=201,
        errors=(401, 403, 409, 413, 422),
    ),
    Endpoint("GET", "/api/v1/users", list_users, "List users (admin)", "user", UserList, errors=(401, 403)),
    Endpoint(
        "GET",
        USER,
        get_user,
        "Read a user (admin, or the user itself)",
        "user",
        UserView,
        errors=(401, 403, 404),
    ),
    Endpoint(
        "PATCH",
        USER,
        update_user,
        "Disable/enable a user or change its role (admin)",
        "user",
        UserView,
        body=UserUpdate,
        errors=(401, 403, 404, 409, 413, 422),
    ),
    Endpoint(
        "PUT",
        USER + "/password",
        change_password,
        "Change a password (revokes the user's other tokens)",
        "user",
        UserView,
        body=PasswordChange,
        errors=(401, 403, 404, 409, 413, 422),
    ),
]

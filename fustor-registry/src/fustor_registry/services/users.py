"""Users: create, list, read, disable/enable, change role, change password."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fustor_core.errors import Conflict, Forbidden, NotFound
from fustor_core.logs import log_event
from fustor_registry.access import ADMIN, Caller, require_admin
from fustor_registry.models import AuthToken, User, utcnow
from fustor_registry.passwords import Passwords
from fustor_registry.schemas import PasswordChange, UserCreate, UserUpdate
from fustor_registry.views import user_view

logger = logging.getLogger(__name__)


def find_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def create_user(session: Session, caller: Caller, body: UserCreate, passwords: Passwords) -> dict[str, Any]:
    require_admin(caller, "create users")
    if session.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise Conflict(f"a user named {body.username!r} already exists")
    user = User(username=body.username, password_hash=passwords.hash(body.password), role=body.role)
    session.add(user)
    session.flush()
    log_event(logger, logging.INFO, "user created", user=user.username, role=user.role, by=caller.username)
    return user_view(user)


def list_users(session: Session, caller: Caller) -> list[dict[str, Any]]:
    require_admin(caller, "list users")
    return [user_view(user) for user in session.scalars(select(User).order_by(User.id))]


def get_user(session: Session, caller: Caller, username: str) -> dict[str, Any]:
    user = find_user(session, username) if caller.is_admin else _self(session, caller, username)
    return user_view(user)


def update_user(session: Session, caller: Caller, username: str, body: UserUpdate) -> dict[str, Any]:
    require_admin(caller, "change users")
    user = find_user(session, username)
    losing_admin = user.role == ADMIN and not user.disabled and (body.disabled or body.role == "user")
    if losing_admin and _active_admins(session) <= 1:
        raise Conflict(f"{username!r} is the last active admin; it cannot be disabled or demoted")
    if body.role is not None:
        user.role = body.role
    if body.disabled is not None:
        user.disabled = body.disabled
        if body.disabled:
            _revoke_tokens(session, user.id)
    log_event(
        logger,
        logging.INFO,
        "user changed",
        user=username,
        role=user.role,
        disabled=user.disabled,
        by=caller.username,
    )
    return user_view(user)


def change_password(
    session: Session, caller: Caller, username: str, body: PasswordChange, passwords: Passwords
) -> dict[str, Any]:
    user = find_user(session, username) if caller.is_admin else _self(session, caller, username)
    must_prove = not caller.is_admin or caller.user_id == user.id  # admins reset others' passwords
    if must_prove and not _proves(passwords, user, body.current_password):
        raise Forbidden("current_password: does not match")
    user.password_hash = passwords.hash(body.new_password)
    _revoke_tokens(session, user.id, keep=caller.token_id)
    log_event(logger, logging.INFO, "password changed", user=username, by=caller.username)
    return user_view(user)


def _proves(passwords: Passwords, user: User, current_password: str | None) -> bool:
    return current_password is not None and passwords.verify(user.password_hash, current_password)


def _self(session: Session, caller: Caller, username: str) -> User:
    if username != caller.username:
        raise Forbidden("only an admin may read or change another user")
    return find_user(session, username)


def _active_admins(session: Session) -> int:
    count = session.scalar(select(func.count(User.id)).where(User.role == ADMIN, User.disabled.is_(False)))
    return int(count or 0)


def _revoke_tokens(session: Session, user_id: int, keep: int | None = None) -> None:
    """End the user's login sessions (all but ``keep``, the one making this request)."""
    statement = update(AuthToken).where(AuthToken.user_id == user_id, AuthToken.revoked_at.is_(None))
    if keep is not None:
        statement = statement.where(AuthToken.id != keep)
    session.execute(statement.values(revoked_at=utcnow()))

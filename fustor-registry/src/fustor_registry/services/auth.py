"""Logins and bearer tokens: issue, resolve to a Caller, revoke."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from fustor_core.errors import Forbidden, Unauthorized
from fustor_registry.access import Caller
from fustor_registry.models import AuthToken, User, utcnow
from fustor_registry.passwords import Passwords
from fustor_registry.tokens import digest, new_login_token
from fustor_registry.views import token_view

BAD_LOGIN = "invalid user name or password"


def login(
    session: Session, username: str, password: str, passwords: Passwords, ttl_s: float
) -> dict[str, Any]:
    """A fresh token for valid credentials; Unauthorized (same message) for any bad pair."""
    user = session.scalar(select(User).where(User.username == username))
    if not passwords.verify(user.password_hash if user else None, password) or user is None:
        raise Unauthorized(BAD_LOGIN)
    if user.disabled:
        raise Forbidden(f"user {username!r} is disabled")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash(password)
    now = utcnow()
    _forget_dead_tokens(session, user.id, now)
    secret = new_login_token()
    token = AuthToken(
        user=user, token_hash=digest(secret), created_at=now, expires_at=now + timedelta(seconds=ttl_s)
    )
    session.add(token)
    session.flush()
    return token_view(token, secret)


def _forget_dead_tokens(session: Session, user_id: int, now: datetime) -> None:
    """Delete the user's expired and revoked tokens, so the table does not grow with every login."""
    session.execute(
        delete(AuthToken).where(
            AuthToken.user_id == user_id, or_(AuthToken.expires_at <= now, AuthToken.revoked_at.is_not(None))
        )
    )


def authenticate(session: Session, secret: str | None) -> Caller:
    """The user behind a bearer token, or Unauthorized (missing, unknown, expired, revoked, disabled)."""
    if not secret:
        raise Unauthorized("missing bearer token (log in at /api/v1/auth/login)")
    token = session.scalar(select(AuthToken).where(AuthToken.token_hash == digest(secret)))
    if token is None or token.revoked_at is not None:
        raise Unauthorized("invalid or revoked bearer token")
    if token.expires_at <= utcnow():
        raise Unauthorized("bearer token expired; log in again")
    if token.user.disabled:
        raise Unauthorized(f"user {token.user.username!r} is disabled")
    return Caller(
        user_id=token.user.id, username=token.user.username, role=token.user.role, token_id=token.id
    )


def logout(session: Session, caller: Caller) -> None:
    token = session.get(AuthToken, caller.token_id) if caller.token_id is not None else None
    if token is not None and token.revoked_at is None:
        token.revoked_at = utcnow()

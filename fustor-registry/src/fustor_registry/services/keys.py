"""API keys: create (secret shown once), list (prefix only), revoke, verify, agent bootstrap."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from fustor_core.errors import Forbidden, FustorError, NotFound, Unauthorized
from fustor_core.logs import log_event
from fustor_registry.access import Caller, require_owner
from fustor_registry.models import ApiKey, Datastore, utcnow
from fustor_registry.schemas import KeyCreate
from fustor_registry.secrets_box import SecretBox
from fustor_registry.services.cluster import route_for
from fustor_registry.services.datastores import owned_datastore
from fustor_registry.services.storage import decrypted_credentials
from fustor_registry.tokens import digest, new_api_key
from fustor_registry.views import iso, key_state, key_view, storage_environment_view

logger = logging.getLogger(__name__)

INGEST = "ingest"


def create_key(session: Session, caller: Caller, datastore_name: str, body: KeyCreate) -> dict[str, Any]:
    """A new key for the datastore; the answer is the only place its secret ever appears."""
    datastore = owned_datastore(session, caller, datastore_name)
    secret, prefix = new_api_key()
    now = utcnow()
    key = ApiKey(
        datastore=datastore,
        prefix=prefix,
        key_hash=digest(secret),
        scopes=",".join(body.sorted_scopes()),
        created_by_id=caller.user_id,
        created_at=now,
        expires_at=body.expiry(now),
        label=body.label,
    )
    session.add(key)
    session.flush()
    log_event(
        logger,
        logging.INFO,
        "api key created",
        datastore=datastore_name,
        prefix=prefix,
        scopes=key.scopes,
        by=caller.username,
    )
    return key_view(key) | {"key": secret}


def list_datastore_keys(session: Session, caller: Caller, datastore_name: str) -> list[dict[str, Any]]:
    datastore = owned_datastore(session, caller, datastore_name)
    query = select(ApiKey).where(ApiKey.datastore_id == datastore.id).order_by(ApiKey.id)
    return [key_view(key) for key in session.scalars(query)]


def list_keys(session: Session, caller: Caller) -> list[dict[str, Any]]:
    """Admin: every key (also those of deleted datastores); user: keys of datastores it owns."""
    query = select(ApiKey).order_by(ApiKey.id)
    if not caller.is_admin:
        query = query.join(Datastore, ApiKey.datastore_id == Datastore.id).where(
            Datastore.owner_id == caller.user_id
        )
    return [key_view(key) for key in session.scalars(query)]


def revoke_key(session: Session, caller: Caller, key_id: int) -> dict[str, Any]:
    """Revoke by id; revoking a revoked key is a no-op that answers the same."""
    key = session.get(ApiKey, key_id)
    if key is None:
        raise NotFound(f"no API key with id {key_id}")
    if key.datastore is None:
        if not caller.is_admin:
            raise Forbidden("only an admin may see keys of deleted datastores")
    else:
        require_owner(caller, key.datastore)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        log_event(logger, logging.INFO, "api key revoked", prefix=key.prefix, by=caller.username)
    return key_view(key)


def verify_key(connection: Connection | Session, secret: str) -> dict[str, Any]:
    """Fusion's question "is this key valid, and for what?"; 404 (with a reason code) if not.

    On Fusion's cold path (budget: 5 ms for the whole round trip), so it is one indexed query
    returning plain columns on a bare connection rather than ORM objects in a session.
    """
    row = connection.execute(
        select(ApiKey.id, ApiKey.prefix, ApiKey.scopes, ApiKey.expires_at, ApiKey.revoked_at, Datastore.name)
        .outerjoin(Datastore, ApiKey.datastore_id == Datastore.id)
        .where(ApiKey.key_hash == digest(secret))
    ).one_or_none()
    if row is None:
        raise NotFound("unknown API key", code="key_unknown")
    key_id, prefix, scopes, expires_at, revoked_at, datastore = row
    if revoked_at is not None or datastore is None:
        raise NotFound(f"API key {prefix} is revoked", code="key_revoked")
    if expires_at is not None and expires_at <= utcnow():
        raise NotFound(f"API key {prefix} is expired", code="key_expired")
    return {
        "datastore": datastore,
        "scopes": [scope for scope in scopes.split(",") if scope],
        "expires_at": iso(expires_at),
        "key_id": key_id,
        "prefix": prefix,
    }


def agent_bootstrap(
    session: Session, secret: str, datastore_name: str | None, box: SecretBox, node_timeout_s: float = 30.0
) -> dict[str, Any]:
    """Where an agent holding an ingest key should push, and its storage credentials.

    In a cluster "where" is the live node that owns the datastore's view now (see
    :func:`fustor_registry.services.cluster.route_for`); an agent asks again when it loses it.
    """
    key = _valid_key(session, secret, Unauthorized)
    datastore = key.datastore
    assert datastore is not None
    if INGEST not in key.scope_list:
        raise Forbidden("the API key lacks the 'ingest' scope needed to bootstrap an agent")
    if datastore_name is not None and datastore_name != datastore.name:
        raise Forbidden(f"the API key is for another datastore than {datastore_name!r}")
    environment = datastore.storage_environment
    credentials = decrypted_credentials(session, environment, box) if environment else {}
    log_event(
        logger,
        logging.INFO,
        "agent bootstrap",
        datastore=datastore.name,
        prefix=key.prefix,
        credentials=len(credentials),
    )
    return {
        "datastore": datastore.name,
        "fusion_url": route_for(session, datastore, node_timeout_s),
        "storage_environment": storage_environment_view(environment) if environment else None,
        "credentials": credentials,
    }


def _valid_key(session: Session, secret: str, error: type[FustorError]) -> ApiKey:
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest(secret)))
    if key is None:
        raise error("unknown API key", code="key_unknown")
    state = key_state(key)
    if state != "active":
        raise error(f"API key {key.prefix} is {state}", code=f"key_{state}")
    return key

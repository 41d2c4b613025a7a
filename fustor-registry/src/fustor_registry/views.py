"""JSON views of records. The only place records become answers, so no secret leaks by accident:
no view reads ``password_hash``, ``token_hash``, ``key_hash`` or ``ciphertext``. Free-form JSON
is served through :func:`~fustor_registry.freejson.servable_object`, so one bad stored value
cannot break an answer (a listing above all)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fustor_registry.freejson import servable_object
from fustor_registry.models import (
    ApiKey,
    AuthToken,
    Credential,
    Datastore,
    FusionNode,
    StorageEnvironment,
    User,
    utcnow,
)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "disabled": user.disabled,
        "created_at": iso(user.created_at),
    }


def token_view(token: AuthToken, secret: str) -> dict[str, Any]:
    return {"token": secret, "expires_at": iso(token.expires_at), "user": user_view(token.user)}


def datastore_view(datastore: Datastore) -> dict[str, Any]:
    return {
        "id": datastore.id,
        "name": datastore.name,
        "description": datastore.description,
        "owner": datastore.owner.username if datastore.owner else None,
        "storage_environment": datastore.storage_environment.name if datastore.storage_environment else None,
        "fusion_url": datastore.fusion_url,
        "settings": _settings(datastore),
        "created_at": iso(datastore.created_at),
    }


def service_datastore_view(datastore: Datastore) -> dict[str, Any]:
    """What Fusion needs to serve a datastore (no ownership details)."""
    return {
        "name": datastore.name,
        "description": datastore.description,
        "fusion_url": datastore.fusion_url,
        "storage_environment": datastore.storage_environment.name if datastore.storage_environment else None,
        "settings": _settings(datastore),
    }


def _settings(datastore: Datastore) -> dict[str, Any]:
    return servable_object(datastore.settings, f"settings of datastore {datastore.name!r}")


def key_state(key: ApiKey, now: datetime | None = None) -> str:
    if key.revoked_at is not None or key.datastore_id is None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "prefix": key.prefix,
        "datastore": key.datastore.name if key.datastore else None,
        "scopes": key.scope_list,
        "label": key.label,
        "state": key_state(key),
        "created_at": iso(key.created_at),
        "expires_at": iso(key.expires_at),
        "revoked_at": iso(key.revoked_at),
    }


def storage_environment_view(environment: StorageEnvironment) -> dict[str, Any]:
    return {
        "id": environment.id,
        "name": environment.name,
        "kind": environment.kind,
        "details": servable_object(
            environment.details, f"details of storage environment {environment.name!r}"
        ),
        "created_at": iso(environment.created_at),
    }


def node_view(node: FusionNode, *, placed: list[str], alive: bool) -> dict[str, Any]:
    """A Fusion node of a cluster as it last reported, with the datastores placed on it."""
    return {
        "node_id": node.node_id,
        "advertise_url": node.advertise_url,
        "last_seen": iso(node.last_seen),
        "alive": alive,
        "owned": _names(node.owned),
        "serving": _names(node.serving),
        "placed": placed,
    }


def _names(value: Any) -> list[str]:
    """A stored list of datastore names; anything else stored there (by hand) is served as []."""
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return value
    return []


def credential_view(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "name": credential.name,
        "storage_environment": credential.storage_environment.name,
        "created_at": iso(credential.created_at),
        "updated_at": iso(credential.updated_at),
    }

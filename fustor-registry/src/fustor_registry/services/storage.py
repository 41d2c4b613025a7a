"""Storage environments and the credentials bound to them (admin only, except reading envs)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from fustor_core.errors import Conflict, NotFound
from fustor_core.logs import log_event
from fustor_registry.access import Caller, require_admin
from fustor_registry.models import Credential, Datastore, StorageEnvironment, utcnow
from fustor_registry.schemas import CredentialCreate, CredentialUpdate, StorageEnvironmentCreate
from fustor_registry.secrets_box import SecretBox
from fustor_registry.views import credential_view, storage_environment_view

logger = logging.getLogger(__name__)


def find_environment(session: Session, name: str) -> StorageEnvironment:
    environment = session.scalar(select(StorageEnvironment).where(StorageEnvironment.name == name))
    if environment is None:
        raise NotFound(f"no storage environment named {name!r}")
    return environment


def create_environment(session: Session, caller: Caller, body: StorageEnvironmentCreate) -> dict[str, Any]:
    require_admin(caller, "create storage environments")
    if session.scalar(select(StorageEnvironment.id).where(StorageEnvironment.name == body.name)) is not None:
        raise Conflict(f"a storage environment named {body.name!r} already exists")
    environment = StorageEnvironment(name=body.name, kind=body.kind, details=body.details)
    session.add(environment)
    session.flush()
    log_event(logger, logging.INFO, "storage environment created", name=body.name, kind=body.kind)
    return storage_environment_view(environment)


def list_environments(session: Session, caller: Caller) -> list[dict[str, Any]]:
    query = select(StorageEnvironment).order_by(StorageEnvironment.name)
    return [storage_environment_view(environment) for environment in session.scalars(query)]


def get_environment(session: Session, caller: Caller, name: str) -> dict[str, Any]:
    return storage_environment_view(find_environment(session, name))


def delete_environment(session: Session, caller: Caller, name: str) -> dict[str, Any]:
    require_admin(caller, "delete storage environments")
    environment = find_environment(session, name)
    users = session.scalars(
        select(Datastore.name).where(Datastore.storage_environment_id == environment.id)
    ).all()
    if users:
        raise Conflict(f"storage environment {name!r} is used by datastores: {', '.join(users)}")
    for credential in session.scalars(
        select(Credential).where(Credential.storage_environment_id == environment.id)
    ):
        session.delete(credential)
    session.delete(environment)
    log_event(logger, logging.INFO, "storage environment deleted", name=name)
    return {"deleted": name}


def create_credential(
    session: Session, caller: Caller, environment_name: str, body: CredentialCreate, box: SecretBox
) -> dict[str, Any]:
    require_admin(caller, "manage credentials")
    environment = find_environment(session, environment_name)
    if _credential(session, environment, body.name) is not None:
        raise Conflict(f"storage environment {environment_name!r} already has a credential {body.name!r}")
    credential = Credential(
        storage_environment=environment, name=body.name, ciphertext=box.encrypt(body.secret)
    )
    session.add(credential)
    session.flush()
    log_event(logger, logging.INFO, "credential stored", environment=environment_name, name=body.name)
    return credential_view(credential)


def list_credentials(session: Session, caller: Caller, environment_name: str) -> list[dict[str, Any]]:
    require_admin(caller, "list credentials")
    environment = find_environment(session, environment_name)
    query = (
        select(Credential)
        .where(Credential.storage_environment_id == environment.id)
        .order_by(Credential.name)
    )
    return [credential_view(credential) for credential in session.scalars(query)]


def update_credential(
    session: Session, caller: Caller, environment_name: str, name: str, body: CredentialUpdate, box: SecretBox
) -> dict[str, Any]:
    require_admin(caller, "manage credentials")
    credential = _existing_credential(session, environment_name, name)
    credential.ciphertext = box.encrypt(body.secret)
    credential.updated_at = utcnow()
    log_event(logger, logging.INFO, "credential rotated", environment=environment_name, name=name)
    return credential_view(credential)


def delete_credential(session: Session, caller: Caller, environment_name: str, name: str) -> dict[str, Any]:
    require_admin(caller, "manage credentials")
    session.delete(_existing_credential(session, environment_name, name))
    log_event(logger, logging.INFO, "credential deleted", environment=environment_name, name=name)
    return {"deleted": name}


def decrypted_credentials(
    session: Session, environment: StorageEnvironment, box: SecretBox
) -> dict[str, str]:
    """``{name: secret}`` of one environment — only the agent bootstrap may call this."""
    query = (
        select(Credential)
        .where(Credential.storage_environment_id == environment.id)
        .order_by(Credential.name)
    )
    return {credential.name: box.decrypt(credential.ciphertext) for credential in session.scalars(query)}


def _credential(session: Session, environment: StorageEnvironment, name: str) -> Credential | None:
    return session.scalar(
        select(Credential).where(Credential.storage_environment_id == environment.id, Credential.name == name)
    )


def _existing_credential(session: Session, environment_name: str, name: str) -> Credential:
    credential = _credential(session, find_environment(session, environment_name), name)
    if credential is None:
        raise NotFound(f"storage environment {environment_name!r} has no credential {name!r}")
    return credential

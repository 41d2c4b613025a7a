"""Datastores: create, list, read, update, delete (deleting revokes every key of it)."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import and_, or_, select, true, update
from sqlalchemy.orm import Session

from fustor_core.errors import Conflict, InvalidInput, NotFound
from fustor_core.logs import log_event
from fustor_registry.access import Caller, require_admin, require_owner
from fustor_registry.models import ApiKey, Datastore, DatastorePlacement, StorageEnvironment, utcnow
from fustor_registry.schemas import DatastoreCreate, DatastoreUpdate
from fustor_registry.services.storage import find_environment
from fustor_registry.views import datastore_view, service_datastore_view

logger = logging.getLogger(__name__)


def find_datastore(session: Session, name: str) -> Datastore:
    datastore = session.scalar(select(Datastore).where(Datastore.name == name))
    if datastore is None:
        raise NotFound(f"no datastore named {name!r}")
    return datastore


def owned_datastore(session: Session, caller: Caller, name: str) -> Datastore:
    datastore = find_datastore(session, name)
    require_owner(caller, datastore)
    return datastore


def create_datastore(session: Session, caller: Caller, body: DatastoreCreate) -> dict[str, Any]:
    if session.scalar(select(Datastore.id).where(Datastore.name == body.name)) is not None:
        raise Conflict(f"a datastore named {body.name!r} already exists")
    datastore = Datastore(
        name=body.name,
        description=body.description,
        owner_id=caller.user_id,
        fusion_url=body.fusion_url,
        settings=body.settings,
    )
    if body.storage_environment is not None:
        require_admin(caller, "attach a storage environment to a datastore")
        datastore.storage_environment = _named_environment(session, body.storage_environment)
    session.add(datastore)
    session.flush()
    log_event(logger, logging.INFO, "datastore created", datastore=datastore.name, by=caller.username)
    return datastore_view(datastore)


def _named_environment(session: Session, name: str) -> StorageEnvironment:
    """The environment a request body names. One that does not exist makes the body invalid
    (422): a 404 would say the datastore in the URL is missing."""
    try:
        return find_environment(session, name)
    except NotFound:
        raise InvalidInput(f"storage_environment: no storage environment named {name!r}") from None


def list_datastores(session: Session, caller: Caller) -> list[dict[str, Any]]:
    query = select(Datastore).order_by(Datastore.name)
    if not caller.is_admin:
        query = query.where(Datastore.owner_id == caller.user_id)
    return [datastore_view(datastore) for datastore in session.scalars(query)]


def get_datastore(session: Session, caller: Caller, name: str) -> dict[str, Any]:
    return datastore_view(owned_datastore(session, caller, name))


def update_datastore(session: Session, caller: Caller, name: str, body: DatastoreUpdate) -> dict[str, Any]:
    datastore = owned_datastore(session, caller, name)
    given = body.model_fields_set
    if "storage_environment" in given:
        require_admin(caller, "attach a storage environment to a datastore")
        datastore.storage_environment = (
            _named_environment(session, body.storage_environment) if body.storage_environment else None
        )
    if "description" in given:
        datastore.description = body.description or ""
    if "fusion_url" in given:
        datastore.fusion_url = body.fusion_url
    if "settings" in given:
        datastore.settings = body.settings or {}
    log_event(logger, logging.INFO, "datastore changed", datastore=name, fields=",".join(sorted(given)))
    return datastore_view(datastore)


def delete_datastore(session: Session, caller: Caller, name: str) -> dict[str, Any]:
    """Delete the datastore; its keys stay listed for the record, revoked and unattached."""
    datastore = owned_datastore(session, caller, name)
    result = session.execute(
        update(ApiKey)
        .where(ApiKey.datastore_id == datastore.id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    session.execute(update(ApiKey).where(ApiKey.datastore_id == datastore.id).values(datastore_id=None))
    session.delete(datastore)
    revoked = getattr(result, "rowcount", 0)
    log_event(
        logger, logging.INFO, "datastore deleted", datastore=name, keys_revoked=revoked, by=caller.username
    )
    return {"deleted": name, "keys_revoked": revoked}


def service_datastores(
    session: Session, fusion_url: str | None, node_id: str | None = None
) -> list[dict[str, Any]]:
    """Datastores for a Fusion node: all, or those routed to ``fusion_url``; with ``node_id`` (a
    node of a cluster), those placed on that node plus the unplaced ones (filtered as before) —
    never a datastore placed on other nodes only."""
    query = select(Datastore).order_by(Datastore.name)
    unrouted = Datastore.fusion_url == fusion_url.rstrip("/") if fusion_url else true()
    if node_id:
        placed = select(DatastorePlacement.datastore_id)
        on_node = placed.where(DatastorePlacement.node_id == node_id)
        query = query.where(or_(Datastore.id.in_(on_node), and_(Datastore.id.not_in(placed), unrouted)))
    elif fusion_url:
        query = query.where(unrouted)
    return [service_datastore_view(datastore) for datastore in session.scalars(query)]

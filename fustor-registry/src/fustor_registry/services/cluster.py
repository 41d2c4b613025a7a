"""The Fusion nodes of a cluster: their reports, the placement of datastores on them, and where
an agent of a datastore should push.

Nodes report themselves (``PUT /api/v1/cluster/nodes/{node_id}``, every refresh of theirs): the
URL they advertise, and the datastores whose view they own and serve. The Registry does not
decide ownership (the nodes do, through their shared journal); it only remembers what they said,
so an agent asking where to push is sent to the node that last said it owns the datastore, if
that node is still alive (seen within ``node_timeout_s``). Placement is the operator's part:
which nodes serve a datastore; a node asks for "the datastores placed on me".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from fustor_core.errors import InvalidInput
from fustor_core.logs import log_event
from fustor_registry.models import Datastore, DatastorePlacement, FusionNode, utcnow
from fustor_registry.schemas import NodeReport, is_valid_node_id
from fustor_registry.views import node_view

logger = logging.getLogger(__name__)


def report_node(session: Session, node_id: str, report: NodeReport) -> dict[str, Any]:
    """Record a node's report (creating the node on its first); the answer is the node's view."""
    node = session.scalar(select(FusionNode).where(FusionNode.node_id == node_id))
    now = utcnow()
    owned, serving = sorted(set(report.owned)), sorted(set(report.serving))
    if node is None:
        node = FusionNode(node_id=node_id, advertise_url=report.advertise_url, last_seen=now)
        session.add(node)
        log_event(logger, logging.INFO, "fusion node joined", node=node_id, url=report.advertise_url)
    elif node.advertise_url != report.advertise_url:
        log_event(
            logger,
            logging.INFO,
            "fusion node moved",
            node=node_id,
            was=node.advertise_url,
            url=report.advertise_url,
        )
    if node.owned != owned and node.owned is not None:
        log_event(logger, logging.INFO, "fusion node owns", node=node_id, datastores=",".join(owned) or "-")
    node.advertise_url = report.advertise_url
    node.last_seen = now
    node.owned = owned
    node.serving = serving
    session.flush()
    return node_view(node, placed=placed_on(session, node_id), alive=True)


def placed_on(session: Session, node_id: str) -> list[str]:
    """Names of the datastores placed on ``node_id``."""
    query = (
        select(Datastore.name)
        .join(DatastorePlacement, DatastorePlacement.datastore_id == Datastore.id)
        .where(DatastorePlacement.node_id == node_id)
        .order_by(Datastore.name)
    )
    return list(session.scalars(query))


def list_nodes(session: Session, timeout_s: float) -> list[dict[str, Any]]:
    """Every node that reported, and every node a datastore is placed on (which may not have
    reported yet: no URL, not alive)."""
    cutoff = _cutoff(timeout_s)
    placements: dict[str, list[str]] = {}
    rows = session.execute(
        select(DatastorePlacement.node_id, Datastore.name)
        .join(Datastore, DatastorePlacement.datastore_id == Datastore.id)
        .order_by(Datastore.name)
    )
    for node_id, name in rows:
        placements.setdefault(node_id, []).append(name)
    answer = []
    reported = set()
    for node in session.scalars(select(FusionNode).order_by(FusionNode.node_id)):
        reported.add(node.node_id)
        answer.append(
            node_view(node, placed=placements.get(node.node_id, []), alive=node.last_seen >= cutoff)
        )
    for node_id in sorted(set(placements) - reported):
        answer.append(
            {
                "node_id": node_id,
                "advertise_url": None,
                "last_seen": None,
                "alive": False,
                "owned": [],
                "serving": [],
                "placed": placements[node_id],
            }
        )
    answer.sort(key=lambda item: item["node_id"])
    return answer


def place_datastore(session: Session, datastore: Datastore, node_ids: list[str]) -> list[str]:
    """Place ``datastore`` on exactly these nodes (an empty list: unplaced again)."""
    wanted = sorted(set(node_ids))
    bad = [node_id for node_id in wanted if not is_valid_node_id(node_id)]
    if bad:
        raise InvalidInput(f"nodes: not a node id ([A-Za-z0-9._-], 1 to 64 characters): {bad[0][:80]!r}")
    session.execute(delete(DatastorePlacement).where(DatastorePlacement.datastore_id == datastore.id))
    for node_id in wanted:
        session.add(DatastorePlacement(datastore_id=datastore.id, node_id=node_id))
    session.flush()
    log_event(
        logger, logging.INFO, "datastore placed", datastore=datastore.name, nodes=",".join(wanted) or "-"
    )
    return wanted


def route_for(session: Session, datastore: Datastore, timeout_s: float) -> str | None:
    """Where an agent of ``datastore`` should push: the live node that reports owning it, else a
    live node it is placed on, else its static ``fusion_url``."""
    live = list(
        session.scalars(
            select(FusionNode)
            .where(FusionNode.last_seen >= _cutoff(timeout_s))
            .order_by(FusionNode.last_seen.desc())
        )
    )
    for node in live:
        if datastore.name in (node.owned or []):
            return node.advertise_url
    placed = set(
        session.scalars(
            select(DatastorePlacement.node_id).where(DatastorePlacement.datastore_id == datastore.id)
        )
    )
    for node in sorted(live, key=lambda node: node.node_id):
        if node.node_id in placed:
            return node.advertise_url
    return datastore.fusion_url


def _cutoff(timeout_s: float) -> datetime:
    return utcnow() - timedelta(seconds=timeout_s)

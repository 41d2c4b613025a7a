"""Cluster endpoints: a Fusion node reports itself (service token), admins list the nodes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import NotFound
from fustor_registry.access import Caller, require_admin
from fustor_registry.api.answers import NodeList, NodeView
from fustor_registry.api.calls import as_service, as_user, read_body, registry_of
from fustor_registry.api.endpoints import Endpoint
from fustor_registry.api.responses import JSONResponse
from fustor_registry.schemas import NodeReport, is_valid_node_id, parse_body
from fustor_registry.services import cluster


def node_id_param(request: Request) -> str:
    """The node id of the path; one that breaks the node-id rule cannot exist (404)."""
    value: str = request.path_params["node_id"]
    if not is_valid_node_id(value):
        raise NotFound(f"no node named {value[:64]!r}")
    return value


async def report_node(request: Request) -> Response:
    node_id = node_id_param(request)
    raw = await read_body(request)
    answer = await as_service(
        request, lambda session: cluster.report_node(session, node_id, parse_body(NodeReport, raw))
    )
    return JSONResponse(answer)


async def list_nodes(request: Request) -> Response:
    timeout_s = registry_of(request).config.node_timeout_s

    def work(session: Session, caller: Caller) -> list[dict[str, Any]]:
        require_admin(caller, "list the cluster's nodes")
        return cluster.list_nodes(session, timeout_s)

    return JSONResponse({"nodes": await as_user(request, work)})


ENDPOINTS = [
    Endpoint(
        "PUT",
        "/api/v1/cluster/nodes/{node_id}",
        report_node,
        "A Fusion node of a cluster reports its URL and the datastores it owns and serves (Fusion)",
        "service",
        NodeView,
        body=NodeReport,
        errors=(401, 404, 413, 422),
    ),
    Endpoint(
        "GET",
        "/api/v1/cluster/nodes",
        list_nodes,
        "The cluster's Fusion nodes: last report, alive or not, placed datastores (admin)",
        "user",
        NodeList,
        errors=(401, 403),
    ),
]

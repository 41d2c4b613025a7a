"""The auth matrix: 401 without or with an unknown key, 403 for another datastore or scope."""

from __future__ import annotations

import pytest
from fusion_testkit import (
    BOTH_KEY,
    INGEST_KEY,
    OTHER_INGEST_KEY,
    OTHER_QUERY_KEY,
    QUERY_KEY,
    Fusion,
    error_of,
)

QUERY_ROUTES = ["tree", "stats", "suspects", "blind-spots", "search?pattern=*", "sessions"]


@pytest.mark.parametrize("route", QUERY_ROUTES)
def test_query_routes_auth_matrix(fusion: Fusion, route: str) -> None:
    url = f"/api/v1/views/demo/{route}"
    assert error_of(fusion.client().get(url))[:2] == (401, "unauthorized")
    assert error_of(fusion.client("wrong-key").get(url))[:2] == (401, "unauthorized")
    assert error_of(fusion.client(INGEST_KEY).get(url))[:2] == (403, "forbidden")
    assert error_of(fusion.client(OTHER_QUERY_KEY).get(url))[:2] == (403, "forbidden")
    assert fusion.client(QUERY_KEY).get(url).status_code == 200
    assert fusion.client(BOTH_KEY).get(url).status_code == 200
    # the other datastore's key works on its own datastore
    assert fusion.client(OTHER_QUERY_KEY).get(f"/api/v1/views/other/{route}").status_code == 200


def test_a_valid_key_learns_nothing_about_other_datastore_names(fusion: Fusion) -> None:
    """An existing datastore of someone else and a made-up name are refused alike (403)."""
    client = fusion.client(QUERY_KEY)
    existing = error_of(client.get("/api/v1/views/other/stats"))
    made_up = error_of(client.get("/api/v1/views/nowhere/stats"))
    assert existing[:2] == made_up[:2] == (403, "forbidden")
    assert existing[2].replace("'other'", "NAME") == made_up[2].replace("'nowhere'", "NAME")
    assert error_of(fusion.client().get("/api/v1/views/nowhere/stats"))[0] == 401


def test_ingest_routes_auth_matrix(fusion: Fusion) -> None:
    body = {"agent_id": "host-a"}
    url = "/api/v1/ingest/sessions"
    assert error_of(fusion.client().post(url, json=body))[:2] == (401, "unauthorized")
    assert error_of(fusion.client("nope").post(url, json=body))[:2] == (401, "unauthorized")
    assert error_of(fusion.client(QUERY_KEY).post(url, json=body))[:2] == (403, "forbidden")
    opened = fusion.client(INGEST_KEY).post(url, json=body)
    assert opened.status_code == 201
    sid = opened.json()["session_id"]
    session_url = f"{url}/{sid}/heartbeat"
    assert error_of(fusion.client().post(session_url))[0] == 401
    assert error_of(fusion.client(QUERY_KEY).post(session_url))[0] == 403
    # a session of datastore demo is unknown to datastore other
    assert error_of(fusion.client(OTHER_INGEST_KEY).post(session_url))[:2] == (409, "session_expired")
    assert fusion.client(BOTH_KEY).post(session_url).status_code == 200


def test_every_ingest_route_needs_the_ingest_scope(fusion: Fusion) -> None:
    sid = fusion.agent().open().sid
    routes = [
        ("POST", "/events"),
        ("POST", "/snapshot/start"),
        ("POST", "/snapshot/end"),
        ("POST", "/audit/start"),
        ("POST", "/audit/end"),
        ("GET", "/sentinel/tasks"),
        ("POST", "/sentinel/feedback"),
        ("POST", "/heartbeat"),
        ("DELETE", ""),
    ]
    for method, suffix in routes:
        url = f"/api/v1/ingest/sessions/{sid}{suffix}"
        assert error_of(fusion.client().request(method, url))[0] == 401, suffix
        assert error_of(fusion.client(QUERY_KEY).request(method, url))[0] == 403, suffix


def test_unauthenticated_meta_routes(fusion: Fusion) -> None:
    anonymous = fusion.client()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    ready = anonymous.get("/readyz").json()
    assert ready["status"] == "ready"
    assert ready["views"]["demo"]["role"] == "single"  # no cluster: each view is this node's alone
    assert anonymous.get("/api/v1/openapi.json").json()["openapi"].startswith("3.")

"""API keys: shown once, stored hashed, verified for Fusion, revoked, expired, and revoked
with their datastore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from registry_testkit import ANONYMOUS, SERVICE, Actor, Harness, wait_for
from sqlalchemy import create_engine, update

from fustor_registry.models import ApiKey


def setup_datastore(harness: Harness, name: str = "demo") -> Actor:
    owner = harness.user("owner")
    harness.ok(
        owner, "POST", "/datastores", {"name": name, "fusion_url": "http://127.0.0.1:8102/"}, status=201
    )
    return owner


def verify(harness: Harness, key: str) -> tuple[int, dict]:
    response = harness.call(SERVICE, "POST", "/keys/verify", {"key": key})
    return response.status_code, response.json()


def test_key_lifecycle_create_verify_revoke(harness: Harness) -> None:
    owner = setup_datastore(harness)
    created = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query", "ingest"]}, status=201)
    key = created["key"]
    assert key.startswith(created["prefix"] + "_")

    status, grant = verify(harness, key)
    assert status == 200
    assert grant == {
        "datastore": "demo",
        "scopes": ["ingest", "query"],
        "expires_at": None,
        "key_id": created["id"],
        "prefix": created["prefix"],
    }

    revoked = harness.ok(owner, "DELETE", f"/keys/{created['id']}")
    assert revoked["state"] == "revoked" and revoked["revoked_at"]
    status, error = verify(harness, key)
    assert status == 404
    assert error["error"]["code"] == "key_revoked"
    # revoking again is harmless
    assert harness.ok(owner, "DELETE", f"/keys/{created['id']}")["state"] == "revoked"


def test_secret_is_shown_once_and_listed_by_prefix(harness: Harness) -> None:
    owner = setup_datastore(harness)
    created = harness.ok(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], "label": "host-a"}, 201
    )

    for listing in (
        harness.ok(owner, "GET", "/datastores/demo/keys")["keys"],
        harness.ok(owner, "GET", "/keys")["keys"],
    ):
        assert listing == [{k: v for k, v in created.items() if k != "key"}]
        assert created["key"] not in str(listing)
    assert listing[0]["label"] == "host-a" and listing[0]["state"] == "active"


def test_unknown_key_and_missing_service_token(harness: Harness) -> None:
    setup_datastore(harness)
    status, error = verify(harness, "fk_00000000_not-a-key")
    assert status == 404 and error["error"]["code"] == "key_unknown"

    wrong = {"Authorization": "Bearer not-the-service-token"}
    for headers in ({}, wrong):
        response = harness.client.post("/api/v1/keys/verify", json={"key": "x"}, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


def test_expired_key_is_refused(harness: Harness) -> None:
    owner = setup_datastore(harness)
    short = harness.ok(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], "expires_in_s": 0.5}, 201
    )
    later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    long = harness.ok(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], "expires_at": later}, 201
    )

    status, grant = verify(harness, long["key"])
    assert status == 200 and grant["expires_at"] == long["expires_at"]
    assert verify(harness, short["key"])[0] == 200  # still valid right after creation (0.5 s)

    wait_for(lambda: verify(harness, short["key"])[0] == 404, timeout=5)
    assert verify(harness, short["key"])[1]["error"]["code"] == "key_expired"
    states = {k["id"]: k["state"] for k in harness.ok(owner, "GET", "/keys")["keys"]}
    assert states == {short["id"]: "expired", long["id"]: "active"}


def test_key_expired_in_the_database_is_refused(harness: Harness) -> None:
    owner = setup_datastore(harness)
    created = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)
    engine = create_engine(harness.url)
    with engine.begin() as connection:
        connection.execute(
            update(ApiKey)
            .where(ApiKey.id == created["id"])
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    engine.dispose()

    status, error = verify(harness, created["key"])
    assert status == 404 and error["error"]["code"] == "key_expired"
    assert (
        harness.call(ANONYMOUS, "GET", "/agent/bootstrap", headers={"X-API-Key": created["key"]}).status_code
        == 401
    )


def test_expiry_in_the_past_is_invalid(harness: Harness) -> None:
    owner = setup_datastore(harness)
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    response = harness.call(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], "expires_at": past}
    )
    assert response.status_code == 422
    assert "expires_at is in the past" in response.json()["error"]["message"]


def test_deleting_a_datastore_revokes_its_keys(harness: Harness) -> None:
    owner = setup_datastore(harness)
    keys = [harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201) for _ in range(2)]

    deleted = harness.ok(owner, "DELETE", "/datastores/demo")
    assert deleted == {"deleted": "demo", "keys_revoked": 2}
    for key in keys:
        assert verify(harness, key["key"])[1]["error"]["code"] == "key_revoked"

    # a new datastore with the same name does not bring the old keys back
    harness.ok(owner, "POST", "/datastores", {"name": "demo"}, status=201)
    assert all(verify(harness, key["key"])[0] == 404 for key in keys)
    admin = harness.user("root", role="admin")
    orphaned = [
        k for k in harness.ok(admin, "GET", "/keys")["keys"] if k["id"] in {key["id"] for key in keys}
    ]
    assert [(k["datastore"], k["state"]) for k in orphaned] == [(None, "revoked"), (None, "revoked")]


def test_service_datastores_lists_names_and_routing(harness: Harness) -> None:
    owner = setup_datastore(harness)
    harness.ok(
        owner,
        "POST",
        "/datastores",
        {"name": "other", "fusion_url": "http://fusion-b:8102", "settings": {"hot_window_s": 60}},
        status=201,
    )
    harness.ok(owner, "POST", "/datastores", {"name": "unrouted"}, status=201)

    everything = harness.ok(SERVICE, "GET", "/service/datastores")["datastores"]
    assert [d["name"] for d in everything] == ["demo", "other", "unrouted"]
    assert everything[1] == {
        "name": "other",
        "description": "",
        "fusion_url": "http://fusion-b:8102",
        "storage_environment": None,
        "settings": {"hot_window_s": 60},
    }

    mine = harness.client.get(
        "/api/v1/service/datastores", params={"fusion_url": "http://127.0.0.1:8102/"}, headers=SERVICE.headers
    ).json()["datastores"]
    assert [d["name"] for d in mine] == ["demo"]


def test_bootstrap_needs_an_ingest_key_of_that_datastore(harness: Harness) -> None:
    owner = setup_datastore(harness)
    ingest = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]
    query = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)["key"]

    def bootstrap(key: str, **params: str) -> tuple[int, dict]:
        response = harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": key}, params=params)
        return response.status_code, response.json()

    assert bootstrap(ingest) == (
        200,
        {
            "datastore": "demo",
            "fusion_url": "http://127.0.0.1:8102",
            "storage_environment": None,
            "credentials": {},
        },
    )
    assert bootstrap(ingest, datastore="demo")[0] == 200
    assert bootstrap(ingest, datastore="elsewhere")[0] == 403
    assert bootstrap(query)[0] == 403
    assert bootstrap("fk_00000000_nope")[0] == 401


def test_verification_survives_dropped_database_connections(harness: Harness) -> None:
    """A database restart kills pooled connections; the next check must still answer."""
    owner = setup_datastore(harness)
    created = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)
    assert verify(harness, created["key"])[0] == 200  # the reader pool now holds a connection

    engine = create_engine(harness.url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            killed = connection.exec_driver_sql(  # only this test database's connections
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = current_setting('application_name') AND pid <> pg_backend_pid()"
            ).scalar()
            assert killed and killed >= 1
    engine.dispose()
    if engine.dialect.name == "sqlite":
        harness.registry.db.engine.dispose()  # the closest SQLite has to a restart

    status, grant = verify(harness, created["key"])
    assert status == 200 and grant["datastore"] == "demo"

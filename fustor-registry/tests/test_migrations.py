"""Migrations: an empty database reaches head, a database made by the previous revision keeps
its data through the upgrade, and the ORM models describe exactly what the migrations build."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from registry_testkit import PASSWORD, SECRET_KEY, SERVICE, Backend, Harness, registry_config
from sqlalchemy import inspect, text
from starlette.testclient import TestClient

from fustor_registry import migrate
from fustor_registry.api import create_app
from fustor_registry.db import make_engine
from fustor_registry.models import Base
from fustor_registry.tokens import digest

OLD_KEY = "fk_0123abcd_key-made-before-the-upgrade"
TABLES = {
    "users",
    "auth_tokens",
    "storage_environments",
    "credentials",
    "datastores",
    "api_keys",
    "fusion_nodes",
    "datastore_placements",
}


def test_upgrade_an_empty_database(backend: Backend) -> None:
    engine = make_engine(backend.new_database("empty"))
    assert migrate.current_revision(engine) is None

    assert migrate.upgrade(engine) == migrate.head_revision() == "0003"

    assert set(inspect(engine).get_table_names()) >= TABLES
    with engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == [], f"models and migrations disagree: {diff}"
    assert migrate.upgrade(engine) == "0003"  # a second run is a no-op
    engine.dispose()


def test_the_app_migrates_on_start(backend: Backend) -> None:
    url = backend.new_database("onstart")
    with TestClient(create_app(registry_config(url))) as client:
        assert client.get("/api/v1/health").json() == {"status": "ok"}
    engine = make_engine(url)
    assert migrate.current_revision(engine) == "0003"
    engine.dispose()


def seed_revision_0001(url: str) -> None:
    """Rows as a Registry at revision 0001 would have written them."""
    now = datetime.now(UTC).replace(tzinfo=None)
    secret = Fernet(SECRET_KEY.encode()).encrypt(b"old-credential").decode()
    engine = make_engine(url)
    statements = [
        (
            "INSERT INTO users (id, username, password_hash, role, disabled, created_at) "
            "VALUES (1, 'veteran', :hash, 'admin', :false, :now)",
            {"hash": PasswordHasher().hash(PASSWORD)},
        ),
        (
            "INSERT INTO storage_environments (id, name, kind, details, created_at) "
            "VALUES (1, 'old-nfs', 'nfs', :details, :now)",
            {"details": '{"server": "nfs0"}'},
        ),
        (
            "INSERT INTO credentials (id, storage_environment_id, name, ciphertext, created_at, updated_at) "
            "VALUES (1, 1, 'mount', :secret, :now, :now)",
            {"secret": secret},
        ),
        (
            "INSERT INTO datastores (id, name, description, owner_id, storage_environment_id, created_at) "
            "VALUES (1, 'legacy', 'from 0001', 1, 1, :now)",
            {},
        ),
        (
            "INSERT INTO api_keys (id, datastore_id, prefix, key_hash, scopes, created_by_id, created_at) "
            "VALUES (1, 1, 'fk_0123abcd', :key_hash, 'ingest,query', 1, :now)",
            {"key_hash": digest(OLD_KEY)},
        ),
    ]
    with engine.begin() as connection:
        for sql, params in statements:
            connection.execute(text(sql), {"now": now, "false": False, **params})
    engine.dispose()


def test_a_database_from_the_previous_revision_survives_the_upgrade(backend: Backend) -> None:
    url = backend.new_database("previous")
    engine = make_engine(url)
    assert migrate.upgrade(engine, "0001") == "0001"
    assert "fusion_url" not in {c["name"] for c in inspect(engine).get_columns("datastores")}
    seed_revision_0001(url)

    assert migrate.upgrade(engine) == "0003"
    engine.dispose()

    with TestClient(create_app(registry_config(url))) as client:
        harness = Harness(client.app, client, url)  # type: ignore[arg-type]
        veteran = harness.login("veteran")
        datastore = harness.ok(veteran, "GET", "/datastores/legacy")
        assert datastore | {"created_at": None} == {
            "id": 1,
            "name": "legacy",
            "description": "from 0001",
            "owner": "veteran",
            "storage_environment": "old-nfs",
            "fusion_url": None,
            "settings": {},
            "created_at": None,
        }
        keys = harness.ok(veteran, "GET", "/datastores/legacy/keys")["keys"]
        assert [(k["prefix"], k["label"], k["state"]) for k in keys] == [("fk_0123abcd", "", "active")]
        verified = harness.ok(SERVICE, "POST", "/keys/verify", {"key": OLD_KEY})
        assert verified["datastore"] == "legacy" and verified["scopes"] == ["ingest", "query"]
        boot = client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": OLD_KEY}).json()
        assert boot["credentials"] == {"mount": "old-credential"}
        # new columns work on old rows
        harness.ok(
            veteran, "PATCH", "/datastores/legacy", {"fusion_url": "http://f:8102", "settings": {"a": 1}}
        )
        assert harness.ok(veteran, "GET", "/datastores/legacy")["settings"] == {"a": 1}


def test_downgrade_and_upgrade_again(backend: Backend) -> None:
    url = backend.new_database("roundtrip")
    engine = make_engine(url)
    migrate.upgrade(engine, "0001")
    seed_revision_0001(url)
    migrate.upgrade(engine)

    assert migrate.downgrade(engine, "0001") == "0001"
    assert "label" not in {c["name"] for c in inspect(engine).get_columns("api_keys")}
    assert migrate.upgrade(engine) == "0003"
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM datastores")).scalars().all() == ["legacy"]
        assert connection.execute(text("SELECT datastore_id FROM api_keys")).scalars().all() == [1]
    engine.dispose()

"""No secret in the clear: not in the database, not in a listing, not in a log line, not in an
error. Credentials are decrypted only for an agent holding an ingest key of the datastore."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

import pytest
from registry_testkit import ANONYMOUS, PASSWORD, SERVICE, Harness

from fustor_core.logs import KeyValueFormatter

CREDENTIAL = "nfs-Pa55w0rd-\u00e9t\u00e9-unique-4711"
ROTATED = "rotated-credential-0815"


def build_world(harness: Harness) -> dict[str, Any]:
    """An admin, a storage environment with a credential, a datastore on it, and keys."""
    root = harness.user("root", role="admin")
    harness.ok(
        root,
        "POST",
        "/storage-environments",
        {"name": "lab", "kind": "nfs", "details": {"server": "nfs1", "export": "/srv"}},
        201,
    )
    harness.ok(
        root, "POST", "/storage-environments/lab/credentials", {"name": "mount", "secret": CREDENTIAL}, 201
    )
    harness.ok(
        root,
        "POST",
        "/datastores",
        {"name": "demo", "storage_environment": "lab", "fusion_url": "http://127.0.0.1:8102"},
        201,
    )
    ingest = harness.ok(root, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]
    query = harness.ok(root, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)["key"]
    login = harness.call(ANONYMOUS, "POST", "/auth/login", {"username": "root", "password": PASSWORD}).json()
    return {"root": root, "ingest": ingest, "query": query, "token": login["token"]}


def every_listing(harness: Harness, world: dict[str, Any]) -> list[str]:
    root = world["root"]
    paths = [
        "/users",
        "/datastores",
        "/datastores/demo",
        "/datastores/demo/keys",
        "/keys",
        "/storage-environments",
        "/storage-environments/lab",
        "/storage-environments/lab/credentials",
        "/auth/me",
    ]
    texts = [harness.call(root, "GET", path).text for path in paths]
    texts.append(harness.call(SERVICE, "GET", "/service/datastores").text)
    texts.append(harness.call(SERVICE, "POST", "/keys/verify", {"key": world["ingest"]}).text)
    return texts


def test_credentials_are_listed_by_name_only(harness: Harness) -> None:
    world = build_world(harness)
    listed = harness.ok(world["root"], "GET", "/storage-environments/lab/credentials")["credentials"]
    assert [(c["name"], c["storage_environment"]) for c in listed] == [("mount", "lab")]
    assert set(listed[0]) == {"id", "name", "storage_environment", "created_at", "updated_at"}
    for text in every_listing(harness, world):
        assert CREDENTIAL not in text
        assert world["ingest"] not in text and world["query"] not in text and PASSWORD not in text


def test_bootstrap_decrypts_credentials_for_an_ingest_key_only(harness: Harness) -> None:
    world = build_world(harness)
    answer = harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["ingest"]}).json()
    assert answer == {
        "datastore": "demo",
        "fusion_url": "http://127.0.0.1:8102",
        "storage_environment": {
            **answer["storage_environment"],
            "name": "lab",
            "kind": "nfs",
            "details": {"server": "nfs1", "export": "/srv"},
        },
        "credentials": {"mount": CREDENTIAL},
    }
    refused = harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["query"]})
    assert refused.status_code == 403 and CREDENTIAL not in refused.text

    harness.ok(world["root"], "PUT", "/storage-environments/lab/credentials/mount", {"secret": ROTATED})
    again = harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["ingest"]}).json()
    assert again["credentials"] == {"mount": ROTATED}


def test_raw_rows_hold_no_plaintext_secret(harness: Harness) -> None:
    world = build_world(harness)
    rows = harness.rows()
    dump = repr(rows)
    for secret in (PASSWORD, CREDENTIAL, world["ingest"], world["query"], world["token"]):
        assert secret not in dump
        assert secret.encode("utf-8").hex() not in dump
    # and the stored forms are what they claim to be
    assert all(row[2].startswith("$argon2id$") for row in rows["users"])
    assert len(rows["credentials"]) == 1 and rows["credentials"][0][3].startswith("gAAAA")  # Fernet token
    assert all(len(row[3]) == 64 for row in rows["api_keys"])  # sha256 hex
    assert all(len(row[2]) == 64 for row in rows["auth_tokens"])


def test_no_secret_reaches_a_log_line(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # everything, SQLAlchemy's statement log included
    world = build_world(harness)
    harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["ingest"]})
    harness.call(SERVICE, "POST", "/keys/verify", {"key": world["query"]})
    harness.call(ANONYMOUS, "POST", "/auth/login", {"username": "root", "password": "wrong-" + PASSWORD})
    harness.call(
        world["root"],
        "POST",
        "/storage-environments/lab/credentials",
        {"name": "mount", "secret": CREDENTIAL},
    )  # 409, with the secret in the body
    every_listing(harness, world)

    formatter = KeyValueFormatter()
    lines = "\n".join(formatter.format(record) for record in caplog.records)
    assert "agent bootstrap" in lines and "login failed" in lines  # the events are logged...
    for secret in (PASSWORD, CREDENTIAL, world["ingest"], world["query"], world["token"]):
        assert secret not in lines  # ...without their secrets


def test_no_secret_in_an_error(harness: Harness) -> None:
    world = build_world(harness)
    root = world["root"]
    answers = [
        harness.call(
            root, "POST", "/storage-environments/lab/credentials", {"name": "mount", "secret": CREDENTIAL}
        ),
        harness.call(
            root, "POST", "/storage-environments/lab/credentials", {"name": "bad name!", "secret": CREDENTIAL}
        ),
        harness.call(
            root,
            "POST",
            "/storage-environments/lab/credentials",
            {"name": "x", "secret": CREDENTIAL, "extra": CREDENTIAL},
        ),
        harness.call(
            root, "POST", "/storage-environments/lab/credentials", {"name": "y", "secret": [CREDENTIAL]}
        ),
        harness.call(root, "POST", "/users", {"username": "u1", "password": "short"}),
        harness.call(ANONYMOUS, "POST", "/auth/login", {"username": "root", "password": PASSWORD + "x"}),
        harness.call(SERVICE, "POST", "/keys/verify", {"key": world["ingest"] + "x"}),
        harness.call(SERVICE, "POST", "/keys/verify", {"key": [world["ingest"]]}),
        harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["query"]}),
    ]
    for response in answers:
        assert 400 <= response.status_code < 500, response.text
        for secret in (CREDENTIAL, world["ingest"], world["query"], PASSWORD, "short"):
            assert secret not in response.text, (response.status_code, response.text)
        assert "Traceback" not in response.text


def test_a_credential_encrypted_with_another_key_fails_cleanly(
    start_harness: Callable[..., Harness], caplog: pytest.LogCaptureFixture
) -> None:
    from cryptography.fernet import Fernet

    first = start_harness()
    world = build_world(first)
    second = start_harness(secret_key=Fernet.generate_key().decode())  # same database, another key
    response = second.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": world["ingest"]})
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["code"] == "credential_key_mismatch"
    assert re.fullmatch(r"internal error \(ref [0-9a-f]{12}\); see the Registry log", error["message"]), error
    assert any(
        "cannot be decrypted" in record.getMessage()
        or "cannot be decrypted" in str(getattr(record, "fields", ""))
        for record in caplog.records
    )

"""Hostile input gets a 4xx that says what is wrong — and leaves the database as it was."""

from __future__ import annotations

from typing import Any

import pytest
from registry_testkit import SERVICE, Actor, Harness

SQL = "x'; DROP TABLE users; --"
DEEP: dict[str, Any] = {"leaf": 1}
for _level in range(9):
    DEEP = {"level": DEEP}

# (path, body, status, words the message must contain)
BAD_BODIES: list[tuple[str, str, Any, int, tuple[str, ...]]] = [
    ("oversized name", "/datastores", {"name": "a" * 65}, 422, ("name", "at most 64 characters")),
    (
        "oversized description",
        "/datastores",
        {"name": "ok", "description": "d" * 2001},
        422,
        ("description", "at most 2000"),
    ),
    (
        "oversized settings",
        "/datastores",
        {"name": "ok", "settings": {"k": "v" * 17000}},
        422,
        ("settings", "larger than"),
    ),
    ("deep settings", "/datastores", {"name": "ok", "settings": DEEP}, 422, ("settings", "nested deeper")),
    ("sql in name", "/datastores", {"name": SQL}, 422, ("name", "may contain only")),
    ("sql in user name", "/users", {"username": SQL, "password": "password-123"}, 422, ("username",)),
    ("unicode name", "/datastores", {"name": "d\u00e4ta"}, 422, ("name", "may contain only")),
    ("leading dot", "/datastores", {"name": ".hidden"}, 422, ("name", "must start with")),
    (
        "nul in description",
        "/datastores",
        {"name": "ok", "description": "a\x00b"},
        422,
        ("description", "NUL"),
    ),
    ("nul in settings", "/datastores", {"name": "ok", "settings": {"a": "\x00"}}, 422, ("settings", "NUL")),
    ("name wrong type", "/datastores", {"name": 42}, 422, ("name", "valid string")),
    ("name null", "/datastores", {"name": None}, 422, ("name",)),
    (
        "settings wrong type",
        "/datastores",
        {"name": "ok", "settings": [1, 2]},
        422,
        ("settings", "object"),
    ),
    ("missing name", "/datastores", {}, 422, ("name", "required")),
    ("unknown field", "/datastores", {"name": "ok", "owner_id": 1}, 422, ("owner_id", "not permitted")),
    (
        "bad url",
        "/datastores",
        {"name": "ok", "fusion_url": "javascript:alert(1)"},
        422,
        ("fusion_url", "http"),
    ),
    ("body is a list", "/datastores", ["name"], 422, ("body", "JSON object")),
    ("short password", "/users", {"username": "eve", "password": "short"}, 422, ("password", "at least 8")),
    ("bad role", "/users", {"username": "eve", "password": "password-123", "role": "root"}, 422, ("role",)),
    ("role wrong type", "/users", {"username": "eve", "password": "password-123", "role": 1}, 422, ("role",)),
    ("bad scope", "/datastores/demo/keys", {"scopes": ["admin"]}, 422, ("scopes.0", "ingest")),
    ("no scopes", "/datastores/demo/keys", {"scopes": []}, 422, ("scopes", "at least 1")),
    ("scopes wrong type", "/datastores/demo/keys", {"scopes": "ingest"}, 422, ("scopes", "valid array")),
    (
        "number as a string",
        "/datastores/demo/keys",
        {"scopes": ["ingest"], "expires_in_s": "10"},
        422,
        ("expires_in_s", "valid number"),
    ),
    (
        "date-time as a number",
        "/datastores/demo/keys",
        {"scopes": ["ingest"], "expires_at": 4102444800},
        422,
        ("expires_at", "valid datetime"),
    ),
    (
        "negative expiry",
        "/datastores/demo/keys",
        {"scopes": ["ingest"], "expires_in_s": -5},
        422,
        ("expires_in_s", "greater than 0"),
    ),
    (
        "nan expiry",
        "/datastores/demo/keys",
        '{"scopes": ["ingest"], "expires_in_s": NaN}',
        422,
        ("body", "JSON"),
    ),
    (
        "naive expiry",
        "/datastores/demo/keys",
        {"scopes": ["ingest"], "expires_at": "2099-01-01T00:00:00"},
        422,
        ("expires_at", "timezone"),
    ),
    (
        "both expiries",
        "/datastores/demo/keys",
        {"scopes": ["ingest"], "expires_at": "2099-01-01T00:00:00Z", "expires_in_s": 5},
        422,
        ("body", "not both"),
    ),
    ("bad kind", "/storage-environments", {"name": "env", "kind": "NFS;DROP"}, 422, ("kind",)),
    (
        "oversized secret",
        "/storage-environments/lab/credentials",
        {"name": "c", "secret": "s" * 16385},
        422,
        ("secret", "at most 16384"),
    ),
    ("invalid json", "/datastores", "{not json", 422, ("body", "not valid JSON")),
    ("deep json", "/datastores", "[" * 100_000 + "]" * 100_000, 422, ("body", "not valid JSON")),
    ("invalid utf-8", "/datastores", b'{"name": "\xff\xfe"}', 422, ("body", "not valid JSON")),
    ("huge body", "/datastores", {"name": "ok", "description": "x" * 2_000_000}, 413, ("larger than",)),
]


@pytest.fixture
def world(harness: Harness) -> Actor:
    root = harness.user("root", role="admin")
    harness.ok(root, "POST", "/datastores", {"name": "demo"}, 201)
    harness.ok(root, "POST", "/storage-environments", {"name": "lab", "kind": "nfs"}, 201)
    return root


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_body_is_refused_and_changes_nothing(
    harness: Harness, world: Actor, path: str, body: Any, status: int, words: tuple[str, ...]
) -> None:
    before = harness.rows()
    if isinstance(body, (str, bytes)):
        response = harness.client.post("/api/v1" + path, content=body, headers=world.headers)
    else:
        response = harness.call(world, "POST", path, body)

    assert response.status_code == status, response.text
    error = response.json()["error"]
    for word in words:
        assert word in error["message"], error["message"]
    assert "Traceback" not in response.text
    assert harness.rows() == before


def test_sql_metacharacters_are_data_where_free_text_is_allowed(harness: Harness, world: Actor) -> None:
    created = harness.ok(
        world, "POST", "/datastores", {"name": "sqlish", "description": SQL, "settings": {SQL: SQL}}, 201
    )
    assert created["description"] == SQL and created["settings"] == {SQL: SQL}
    assert harness.ok(world, "GET", "/datastores/sqlish")["description"] == SQL
    assert len(harness.ok(world, "GET", "/users")["users"]) == 1  # the users table is still there
    # metacharacters in path segments and query strings are just unknown names
    assert harness.call(world, "GET", "/datastores/demo' OR '1'='1").status_code == 404
    response = harness.client.get(
        "/api/v1/service/datastores", params={"fusion_url": SQL}, headers=SERVICE.headers
    )
    assert response.status_code == 200 and response.json() == {"datastores": []}


def test_unicode_round_trips_in_free_text(harness: Harness, world: Actor) -> None:
    text = "Sequenzierl\u00e4ufe \u2014 \u6570\u636e \U0001f9ec \u202e"
    created = harness.ok(
        world, "POST", "/datastores", {"name": "uni", "description": text, "settings": {"\u00fc": text}}, 201
    )
    fetched = harness.ok(world, "GET", "/datastores/uni")
    assert fetched["description"] == created["description"] == text
    assert fetched["settings"] == {"\u00fc": text}


def test_hostile_identifiers_in_paths(harness: Harness, world: Actor) -> None:
    before = harness.rows()
    for path in (
        "/keys/99999999999999999999999",
        "/keys/0",
        "/users/%00",
        "/datastores/" + "a" * 5000,
        "/storage-environments/%F0%9F%A7%AC",
    ):
        response = harness.call(world, "DELETE" if path.startswith("/keys") else "GET", path)
        assert response.status_code == 404, (path, response.text)
    assert harness.rows() == before


def test_hostile_service_and_agent_input(harness: Harness, world: Actor) -> None:
    before = harness.rows()
    for body, words in (({"key": "k" * 513}, "at most 512"), ({"key": 5}, "valid string"), ({}, "required")):
        response = harness.call(SERVICE, "POST", "/keys/verify", body)
        assert response.status_code == 422 and words in response.json()["error"]["message"]
    assert harness.call(SERVICE, "POST", "/keys/verify", {"key": SQL}).status_code == 404
    for key in ("", "k" * 600, SQL):
        assert harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": key}).status_code == 401
    response = harness.client.get(
        "/api/v1/service/datastores", params={"fusion_url": "u" * 3000}, headers=SERVICE.headers
    )
    assert response.status_code == 422 and "fusion_url" in response.json()["error"]["message"]
    assert harness.rows() == before


def test_hostile_login(harness: Harness, world: Actor) -> None:
    before = harness.rows()
    for body in (
        {"username": SQL, "password": SQL},
        {"username": "root", "password": ["x"]},
        {"username": "r" * 65, "password": "x"},
        {"username": "root"},
        {"username": "ro\x00ot", "password": "x"},
        {"username": "root", "password": "x\x00"},
    ):
        response = harness.call(SERVICE, "POST", "/auth/login", body)
        assert response.status_code in (401, 422), response.text
    assert harness.rows() == before

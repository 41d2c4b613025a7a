"""Free-form JSON (datastore settings, storage-environment details) on a real server: a value that
could be stored but not served back is refused before anything is written, and a bad value
already in the database (older version, hand edit) never breaks an answer — above all not the
listings every user and Fusion depend on."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from registry_testkit import SERVICE, SERVICE_TOKEN, Actor, Harness, serve
from sqlalchemy import create_engine, text
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fustor_fusion.config import RegistryLinkConfig
from fustor_fusion.registry_keys import RegistryKeyChecker, RegistryUnavailable
from fustor_fusion.registry_link import RegistryLink
from fustor_registry.api import create_app

HUGE_INT = 1803649164015794913280  # the value from the report: beyond 64 bits


@pytest.fixture
def server(harness: Harness) -> Iterator[str]:
    with serve(create_app(harness.registry.config, registry=harness.registry)) as url:
        yield url + "/api/v1"


def call(base: str, actor: Actor, method: str, path: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, base + path, headers=actor.headers | kwargs.pop("headers", {}), **kwargs)


def post_raw(base: str, actor: Actor, path: str, body: str) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return call(base, actor, "POST", path, content=body.encode("utf-8"), headers=headers)


UNSERVABLE = [
    ("int beyond 64 bits", json.dumps({"x": HUGE_INT}), "64 bits"),
    ("negative int beyond 64 bits", json.dumps({"x": -(2**63 + 1)}), "64 bits"),
    ("1e999 is infinity", '{"x": 1e999}', "finite"),
    ("a fraction beyond the range", '{"x": 1e19}', "64 bits"),
    ("-1e999 in a list", '{"x": [1, -1e999]}', "finite"),
    ("nested int beyond 64 bits", json.dumps({"a": {"b": [2**64]}}), "64 bits"),
    ("lone surrogate", '{"x": "\\ud800"}', "JSON"),
    ("lone surrogate in a key", '{"\\udfff": 1}', "JSON"),
    ("nul in a key", '{"a\\u0000": 1}', "NUL"),
    ("nine levels", '{"a":' * 9 + "1" + "}" * 9, "nested deeper than 8"),
    ("too large", json.dumps({"x": "v" * 17_000}), "larger than 16384"),
]


@pytest.mark.parametrize(("body", "words"), [c[1:] for c in UNSERVABLE], ids=[c[0] for c in UNSERVABLE])
def test_unservable_json_is_refused_and_leaves_no_row(
    harness: Harness, server: str, body: str, words: str
) -> None:
    user = harness.user("plain")  # any user may create a datastore
    admin = harness.user("root", role="admin")
    before = harness.rows()

    created = post_raw(server, user, "/datastores", f'{{"name": "bigint", "settings": {body}}}')
    environment = post_raw(
        server, admin, "/storage-environments", f'{{"name": "env", "kind": "nfs", "details": {body}}}'
    )

    for answer, field in ((created, "settings"), (environment, "details")):
        assert answer.status_code == 422, answer.text
        message = answer.json()["error"]["message"]
        assert words in message, message
        assert field in message or "body" in message, message
    assert harness.rows() == before
    for actor in (user, admin):
        assert call(server, actor, "GET", "/datastores").status_code == 200
    assert call(server, SERVICE, "GET", "/service/datastores").status_code == 200


def test_update_with_unservable_settings_changes_nothing(harness: Harness, server: str) -> None:
    user = harness.user("plain")
    harness.ok(user, "POST", "/datastores", {"name": "ds", "settings": {"keep": 1}}, 201)
    before = harness.rows()
    answer = call(
        server, user, "PATCH", "/datastores/ds", content=b'{"settings": {"x": 1e999}, "description": "new"}'
    )
    assert answer.status_code == 422, answer.text
    assert harness.rows() == before
    assert call(server, user, "GET", "/datastores/ds").json()["settings"] == {"keep": 1}


def test_largest_servable_values_round_trip(harness: Harness, server: str) -> None:
    user = harness.user("plain")
    settings = {
        "max": 2**63 - 1,
        "min": -(2**63),
        "float": 9.2e18,
        "fraction": -0.5,
        "deep": {"a": {"b": {"c": {"d": {"e": {"f": [1]}}}}}},
    }
    created = call(server, user, "POST", "/datastores", json={"name": "edge", "settings": settings})
    assert created.status_code == 201, created.text
    assert call(server, user, "GET", "/datastores/edge").json()["settings"] == settings


# --- rows that are already bad ----------------------------------------------------------------


def stored_values(backend_kind: str) -> list[tuple[str, str]]:
    """JSON texts that an older version or a hand edit could have left in the database."""
    values = [
        ("int beyond 64 bits", json.dumps({"x": HUGE_INT})),
        ("not an object", "[1, 2]"),
        ("a string", '"text"'),
        ("too deep", '{"a":' * 40 + "1" + "}" * 40),
    ]
    if backend_kind == "sqlite":  # PostgreSQL's json type refuses these on the way in
        values += [
            ("infinity", '{"x": Infinity}'),
            ("nan", '{"x": NaN}'),
            ("not json at all", "{oops"),
            ("deeper than the parser goes", "[" * 100_000 + "]" * 100_000),
        ]
    return values


def store_raw(url: str, table: str, column: str, name: str, value: str) -> None:
    engine = create_engine(url)
    cast = "CAST(:value AS json)" if engine.dialect.name == "postgresql" else ":value"
    with engine.begin() as connection:
        connection.execute(
            text(f"UPDATE {table} SET {column} = {cast} WHERE name = :name"), {"value": value, "name": name}
        )
    engine.dispose()


def test_a_bad_stored_row_never_breaks_an_answer(
    harness: Harness, server: str, caplog: pytest.LogCaptureFixture
) -> None:
    owner = harness.user("owner")
    admin = harness.user("root", role="admin")
    harness.ok(
        admin, "POST", "/storage-environments", {"name": "lab", "kind": "nfs", "details": {"ok": 1}}, 201
    )
    harness.ok(
        admin,
        "POST",
        "/datastores",
        {"name": "good", "settings": {"ok": True}, "storage_environment": "lab"},
        201,
    )
    kind = harness.registry.db.engine.dialect.name
    run = uuid.uuid4().hex[:8]  # warnings are once per value and process: names new to this process
    names, environments = [], []
    for index, (label, value) in enumerate(stored_values(kind)):
        names.append(name := f"bad{index}-{run}")
        harness.ok(owner, "POST", "/datastores", {"name": name, "description": label}, 201)
        store_raw(harness.url, "datastores", "settings", name, value)
        environments.append(environment := f"env{index}-{run}")
        harness.ok(admin, "POST", "/storage-environments", {"name": environment, "kind": "nfs"}, 201)
        store_raw(harness.url, "storage_environments", "details", environment, value)
    bad, bad_env = names[0], environments[0]
    ingest_key = harness.ok(admin, "POST", f"/datastores/{bad}/keys", {"scopes": ["ingest"]}, 201)["key"]
    harness.ok(admin, "PATCH", f"/datastores/{bad}", {"storage_environment": bad_env})

    caplog.set_level(logging.WARNING, "fustor_registry.freejson")
    for actor in (owner, admin):
        listing = call(server, actor, "GET", "/datastores")
        assert listing.status_code == 200, listing.text
        by_name = {item["name"]: item for item in listing.json()["datastores"]}
        for name in names:
            assert by_name[name]["settings"] == {}, by_name[name]
    for name in names:
        one = call(server, owner, "GET", f"/datastores/{name}")
        assert one.status_code == 200 and one.json()["settings"] == {}, one.text
    service = call(server, SERVICE, "GET", "/service/datastores")
    assert service.status_code == 200, service.text
    served = {item["name"]: item["settings"] for item in service.json()["datastores"]}
    assert served["good"] == {"ok": True} and all(served[name] == {} for name in names)

    listed = call(server, owner, "GET", "/storage-environments")
    assert listed.status_code == 200, listed.text
    details = {item["name"]: item["details"] for item in listed.json()["storage_environments"]}
    assert details["lab"] == {"ok": 1} and all(details[name] == {} for name in environments)
    assert call(server, owner, "GET", f"/storage-environments/{bad_env}").json()["details"] == {}
    bootstrap = call(server, Actor("agent", {"X-API-Key": ingest_key}), "GET", "/agent/bootstrap")
    assert bootstrap.status_code == 200 and bootstrap.json()["storage_environment"]["details"] == {}

    # an unrelated change to a bad row works and leaves the stored value alone
    assert (
        call(server, owner, "PATCH", f"/datastores/{names[1]}", json={"description": "fixed?"}).status_code
        == 200
    )
    # and the row can be repaired through the API
    repaired = call(server, owner, "PATCH", f"/datastores/{names[1]}", json={"settings": {"x": 1}})
    assert repaired.status_code == 200 and repaired.json()["settings"] == {"x": 1}

    warnings = [r for r in caplog.records if r.name == "fustor_registry.freejson"]
    warned = {r.fields["record"] for r in warnings}  # type: ignore[attr-defined]
    assert (
        f"settings of datastore {bad!r}" in warned and f"details of storage environment {bad_env!r}" in warned
    )
    assert len(warnings) == len(warned)  # once per bad value, not once per request


def test_fusion_serves_around_a_bad_row(harness: Harness, server: str) -> None:
    owner = harness.user("owner")
    harness.ok(owner, "POST", "/datastores", {"name": "alpha"}, 201)
    harness.ok(owner, "POST", "/datastores", {"name": "bigint"}, 201)
    store_raw(harness.url, "datastores", "settings", "bigint", json.dumps({"x": HUGE_INT}))

    async def listing() -> list[tuple[str, dict[str, Any]]]:
        checker = RegistryKeyChecker(server.removesuffix("/api/v1"), SERVICE_TOKEN)
        try:
            return [(d.name, d.settings) for d in await checker.datastores()]
        finally:
            await checker.aclose()

    assert asyncio.run(listing()) == [("alpha", {}), ("bigint", {})]


# --- Fusion says what failed ------------------------------------------------------------------


@pytest.fixture
def failing_registry() -> Iterator[str]:
    """A stand-in Registry whose datastore listing fails (as today's did on a bad row)."""

    async def broken(request: Request) -> Response:
        return JSONResponse({"error": {"code": "internal_error", "message": "internal error"}}, 500)

    app = Starlette(routes=[Route("/api/v1/service/datastores", broken)])
    with serve(app) as url:
        yield url


def test_fusion_names_the_listing_when_the_listing_fails(
    failing_registry: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> str:
        checker = RegistryKeyChecker(failing_registry, SERVICE_TOKEN)
        try:
            with pytest.raises(RegistryUnavailable) as raised:
                await checker.datastores()
        finally:
            await checker.aclose()
        config = RegistryLinkConfig(url=failing_registry, service_token=SERVICE_TOKEN)
        link = RegistryLink(config, static=None, adopt=lambda name: None)
        await link.refresh(0.0)
        await link.aclose()
        return raised.value.message

    caplog.set_level(logging.WARNING)
    message = asyncio.run(scenario())
    assert message == "cannot list the Registry's datastores: internal error"
    logged = " ".join(str(getattr(r, "fields", "")) + r.getMessage() for r in caplog.records)
    assert "list the Registry's datastores" in logged
    assert "verify the API key" not in logged
    assert "/api/v1/service/datastores" in logged

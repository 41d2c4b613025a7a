"""Fusion's RegistryKeyChecker against a real Registry served on 127.0.0.1: the key lifecycle
end to end (create → valid → revoke → refused within the cache TTL), expiry, caching of both
answers, and failing closed when the Registry cannot answer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from registry_testkit import SERVICE_TOKEN, Actor, Harness, serve

from fustor_core.errors import Forbidden, Unauthorized
from fustor_fusion.auth import KeyGrant, require
from fustor_fusion.registry_keys import RegistryKeyChecker, RegistryUnavailable
from fustor_registry.api import create_app


class CountingClient:
    """A real httpx client that counts the requests it sends to the Registry."""

    def __init__(self) -> None:
        self.requests = 0
        self.client = httpx.AsyncClient(event_hooks={"request": [self._count]})

    async def _count(self, request: httpx.Request) -> None:
        self.requests += 1


@pytest.fixture
def registry_url(harness: Harness) -> Iterator[str]:
    app = create_app(harness.registry.config, registry=harness.registry)
    with serve(app) as url:
        yield url


@pytest.fixture
def owner(harness: Harness) -> Actor:
    owner = harness.user("owner")
    harness.ok(owner, "POST", "/datastores", {"name": "demo"}, 201)
    return owner


def new_key(harness: Harness, owner: Actor, **body: Any) -> dict[str, Any]:
    created: dict[str, Any] = harness.ok(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], **body}, 201
    )
    return created


async def refused_within(checker: RegistryKeyChecker, key: str, timeout_s: float) -> float:
    """Seconds until ``check(key)`` raises Unauthorized (polling), or fail after ``timeout_s``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        try:
            await checker.check(key)
        except Unauthorized:
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    raise AssertionError(f"key still accepted after {timeout_s} s")


def test_key_lifecycle_through_the_checker(harness: Harness, owner: Actor, registry_url: str) -> None:
    created = new_key(harness, owner, scopes=["ingest", "query"])
    ttl = 0.5

    async def scenario() -> float:
        counting = CountingClient()
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN, ttl_s=ttl, client=counting.client)
        grant = await checker.check(created["key"])
        assert grant == KeyGrant("demo", frozenset({"ingest", "query"}))
        require(grant, "ingest", "demo")
        with pytest.raises(Forbidden):
            require(grant, "ingest", "other-datastore")
        for _ in range(50):  # warm: answered from memory
            assert await checker.check(created["key"]) == grant
        assert counting.requests == 1

        harness.ok(owner, "DELETE", f"/keys/{created['id']}")
        waited = await refused_within(checker, created["key"], timeout_s=ttl + 2)
        await counting.client.aclose()
        return waited

    waited = asyncio.run(scenario())
    assert waited <= ttl + 0.5, f"revoked key kept working for {waited:.2f} s with a {ttl} s cache"


def test_default_ttl_bounds_how_long_a_revoked_key_works(
    harness: Harness, owner: Actor, registry_url: str
) -> None:
    created = new_key(harness, owner)
    now = [1000.0]  # the checker's clock, moved by hand instead of sleeping 10 s

    async def scenario() -> None:
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN, clock=lambda: now[0])
        assert checker.ttl_s == 10.0
        await checker.check(created["key"])
        harness.ok(owner, "DELETE", f"/keys/{created['id']}")
        now[0] += 9.9
        assert (await checker.check(created["key"])).datastore == "demo"  # cached, as documented
        now[0] += 0.1
        with pytest.raises(Unauthorized, match="revoked"):
            await checker.check(created["key"])
        await checker.aclose()

    asyncio.run(scenario())


def test_negative_answers_are_cached_too(harness: Harness, owner: Actor, registry_url: str) -> None:
    async def scenario() -> int:
        counting = CountingClient()
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN, ttl_s=30, client=counting.client)
        for _ in range(20):
            with pytest.raises(Unauthorized, match="unknown API key"):
                await checker.check("fk_00000000_flood")
        with pytest.raises(Unauthorized):
            await checker.check("k" * 5000)  # too long to be a key: refused without asking
        await counting.client.aclose()
        return counting.requests

    assert asyncio.run(scenario()) == 1


def test_a_cached_grant_never_outlives_the_key(harness: Harness, owner: Actor, registry_url: str) -> None:
    created = new_key(harness, owner, expires_in_s=1.0)

    async def scenario() -> float:
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN, ttl_s=60)
        await checker.check(created["key"])
        waited = await refused_within(checker, created["key"], timeout_s=5)
        await checker.aclose()
        return waited

    assert asyncio.run(scenario()) < 2.0


def test_concurrent_cold_checks_share_one_request(harness: Harness, owner: Actor, registry_url: str) -> None:
    created = new_key(harness, owner)

    async def scenario() -> int:
        counting = CountingClient()
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN, client=counting.client)
        grants = await asyncio.gather(*(checker.check(created["key"]) for _ in range(20)))
        assert {grant.datastore for grant in grants} == {"demo"}
        await counting.client.aclose()
        return counting.requests

    assert asyncio.run(scenario()) == 1


def test_fails_closed_and_caches_nothing_when_the_registry_cannot_answer(
    harness: Harness, owner: Actor, registry_url: str
) -> None:
    created = new_key(harness, owner)

    async def scenario() -> None:
        counting = CountingClient()
        wrong_token = RegistryKeyChecker(registry_url, "not-the-token", client=counting.client)
        for _ in range(2):
            with pytest.raises(RegistryUnavailable, match="service token") as raised:
                await wrong_token.check(created["key"])
            assert raised.value.status == 503
        assert counting.requests == 2  # not cached

        down = RegistryKeyChecker("http://127.0.0.1:9", SERVICE_TOKEN, timeout_s=1)
        with pytest.raises(RegistryUnavailable, match="cannot be reached"):
            await down.check(created["key"])
        await down.aclose()
        await counting.client.aclose()

    asyncio.run(scenario())


def test_fusion_learns_its_datastores(harness: Harness, owner: Actor, registry_url: str) -> None:
    harness.ok(
        owner, "PATCH", "/datastores/demo", {"fusion_url": "http://fusion-a:8102", "settings": {"x": 1}}
    )
    harness.ok(owner, "POST", "/datastores", {"name": "other", "fusion_url": "http://fusion-b:8102"}, 201)

    async def scenario() -> tuple[list[str], list[str]]:
        checker = RegistryKeyChecker(registry_url, SERVICE_TOKEN)
        everything = [d.name for d in await checker.datastores()]
        mine = await checker.datastores("http://fusion-a:8102")
        assert mine[0].settings == {"x": 1} and mine[0].fusion_url == "http://fusion-a:8102"
        await checker.aclose()
        return everything, [d.name for d in mine]

    assert asyncio.run(scenario()) == (["demo", "other"], ["demo"])

"""Key lifecycle end to end across two real servers on 127.0.0.1: a Registry, and a Fusion
configured with only its URL and a service token. Create a key → ingest works → revoke →
401 within Fusion's cache time; an expired key is refused; datastores come from the Registry."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from registry_testkit import SERVICE_TOKEN, Actor, Harness, serve, wait_for

from fustor_core.metrics import parse_samples, sample
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app as create_fusion_app
from fustor_fusion.config import parse_fusion_config
from fustor_registry.api import create_app

CACHE_TTL_S = 0.5


@pytest.fixture
def registry_url(harness: Harness) -> Iterator[str]:
    with serve(create_app(harness.registry.config, registry=harness.registry)) as url:
        yield url


@pytest.fixture
def fusion_url(registry_url: str) -> Iterator[str]:
    config = parse_fusion_config(
        {
            "tick_interval_s": 0.05,
            "journal": {"driver": "none"},
            "registry": {
                "url": registry_url,
                "service_token": SERVICE_TOKEN,
                "cache_ttl_s": CACHE_TTL_S,
                "refresh_interval_s": 0.2,
            },
        }
    )
    app = create_fusion_app(config, plugin_manager=get_plugin_manager(only=["storage-memory"], exclude=()))
    with serve(app) as url:
        yield url


@pytest.fixture
def owner(harness: Harness) -> Actor:
    owner = harness.user("owner")
    harness.ok(owner, "POST", "/datastores", {"name": "demo"}, 201)
    return owner


def open_session(fusion_url: str, key: str) -> int:
    response = httpx.post(
        fusion_url + "/api/v1/ingest/sessions",
        json={"agent_id": "host-a", "source_uri": "fs:///x"},
        headers={"X-API-Key": key},
    )
    return response.status_code


def test_create_ingest_revoke(harness: Harness, owner: Actor, fusion_url: str) -> None:
    created = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)
    assert open_session(fusion_url, created["key"]) in (200, 201)
    query_key = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)["key"]
    assert open_session(fusion_url, query_key) == 403  # valid key, wrong scope

    harness.ok(owner, "DELETE", f"/keys/{created['id']}")
    revoked_at = time.monotonic()
    wait_for(lambda: open_session(fusion_url, created["key"]) == 401, timeout=CACHE_TTL_S + 5)
    assert time.monotonic() - revoked_at <= CACHE_TTL_S + 1.0
    assert open_session(fusion_url, "fk_00000000_never-issued") == 401


def test_expired_key_is_refused_by_fusion(harness: Harness, owner: Actor, fusion_url: str) -> None:
    created = harness.ok(
        owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"], "expires_in_s": 1}, 201
    )
    assert open_session(fusion_url, created["key"]) in (200, 201)
    wait_for(lambda: open_session(fusion_url, created["key"]) == 401, timeout=5)


def test_fusion_serves_the_registrys_datastores(harness: Harness, owner: Actor, fusion_url: str) -> None:
    harness.ok(owner, "POST", "/datastores", {"name": "late"}, 201)
    key = harness.ok(owner, "POST", "/datastores/late/keys", {"scopes": ["query"]}, 201)["key"]
    stats = wait_for(
        lambda: (
            (r := httpx.get(fusion_url + "/api/v1/views/late/stats", headers={"X-API-Key": key})).status_code
            == 200
            and r.json()
        ),
        timeout=5,
    )
    assert stats["files"] == 0


def _scrape(url: str, **headers: str) -> dict:  # type: ignore[type-arg]
    answer = httpx.get(url + "/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return parse_samples(answer.text)


def test_both_services_count_the_key_checks_when_scraped(
    harness: Harness, owner: Actor, registry_url: str, fusion_url: str
) -> None:
    """Fusion asks the Registry once per key and cache time; both sides say so in their metrics."""
    key = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]
    harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)
    revoked = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)
    harness.ok(owner, "DELETE", f"/keys/{revoked['id']}")
    for _ in range(3):  # the first asks the Registry, the next two are answered from the cache
        assert open_session(fusion_url, key) == 201
    assert open_session(fusion_url, "fk_00000000_never-issued") == 401

    fusion = _scrape(fusion_url)
    assert sample(fusion, "fustor_registry_key_checks_total", result="miss") == 2
    assert sample(fusion, "fustor_registry_key_checks_total", result="hit") == 2
    registry = _scrape(registry_url)
    assert sample(registry, "fustor_registry_key_verifications_total", verdict="valid") == 1
    assert sample(registry, "fustor_registry_key_verifications_total", verdict="key_unknown") == 1
    assert sample(registry, "fustor_registry_users") == 1
    assert sample(registry, "fustor_registry_datastores") == 1
    assert sample(registry, "fustor_registry_api_keys", state="active") == 2
    assert sample(registry, "fustor_registry_api_keys", state="revoked") == 1
    verify = sample(
        registry, "fustor_http_request_duration_seconds_count", method="POST", route="/api/v1/keys/verify"
    )
    assert verify == 2


def test_registry_metrics_from_another_host_need_a_credential(harness: Harness, owner: Actor) -> None:
    """The Harness's in-process client is not on the loopback interface: it meets the rule for
    other hosts (service token, or a key with the query scope)."""
    ingest = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]
    query = harness.ok(owner, "POST", "/datastores/demo/keys", {"scopes": ["query"]}, 201)["key"]
    assert harness.client.get("/metrics").status_code == 401
    assert (
        harness.client.get("/metrics", headers={"X-API-Key": "fk_00000000_never-issued"}).status_code == 401
    )
    assert harness.client.get("/metrics", headers={"X-API-Key": ingest}).status_code == 403
    assert harness.client.get("/metrics", headers={"X-API-Key": query}).status_code == 200
    service = harness.client.get("/metrics", headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert service.status_code == 200
    assert sample(parse_samples(service.text), "fustor_registry_datastores") == 1

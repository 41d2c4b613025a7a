"""``GET /metrics`` as Prometheus meets it: scraped from a real ``fustor-fusion serve`` process,
parsed with ``prometheus_client.parser``, and the figures match what was sent."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path

import httpx
from fusion_testkit import (
    BASE_CONFIG,
    INGEST_KEY,
    OTHER_QUERY_KEY,
    QUERY_KEY,
    Agent,
    event,
    fusion_process,
    row,
)

from fustor_core.metrics import parse_samples, sample
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config

FILES = 7


def _scrape(client: httpx.Client, **headers: str) -> dict:  # type: ignore[type-arg]
    answer = client.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return parse_samples(answer.text)


def test_a_scrape_counts_what_was_ingested_dropped_and_asked(tmp_path: Path) -> None:
    with (
        fusion_process(tmp_path, BASE_CONFIG) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}") as http,
    ):
        ingest = httpx.Client(base_url=http.base_url, headers={"X-API-Key": INGEST_KEY})
        query = httpx.Client(base_url=http.base_url, headers={"X-API-Key": QUERY_KEY})
        leader = Agent(ingest, "host-a").open()
        follower = Agent(ingest, "host-b").open()
        assert (leader.role, follower.role) == ("leader", "follower")
        rows = [row("/up", is_dir=True), *(row(f"/up/f{i}", size=100 + i) for i in range(FILES))]
        assert leader.send_ok(event("realtime", "insert", *rows))["accepted"] == FILES + 1
        # a follower must not scan: its snapshot rows are dropped, counted under not_leader
        assert follower.send_ok(event("snapshot", "insert", row("/x"), row("/y"), row("/z")))["dropped"] == 3
        for _ in range(3):
            assert query.get("/api/v1/views/demo/tree", params={"path": "/up"}).status_code == 200

        samples = _scrape(http)  # from 127.0.0.1: no key

        assert sample(samples, "fustor_rows_ingested_total", datastore="demo") == FILES + 1
        assert sample(samples, "fustor_rows_ingested_total", datastore="other") == 0
        assert sample(samples, "fustor_rows_dropped_total", datastore="demo", reason="not_leader") == 3
        assert sample(samples, "fustor_view_files", datastore="demo") == FILES
        assert sample(samples, "fustor_view_dirs", datastore="demo") == 1  # /up (the root is not counted)
        assert sample(samples, "fustor_view_bytes", datastore="demo") == sum(100 + i for i in range(FILES))
        assert sample(samples, "fustor_view_ready", datastore="demo") == 1
        assert sample(samples, "fustor_sessions", datastore="demo", role="leader") == 1
        assert sample(samples, "fustor_sessions", datastore="demo", role="follower") == 1
        assert sample(samples, "fustor_batch_apply_seconds_count", datastore="demo") == 2
        lists = {dict(labels)["list"] for name, labels in samples if name == "fustor_view_list_entries"}
        assert {"suspects", "tombstones", "blind_spot_additions", "blind_spot_deletions"} <= lists
        tree = sample(
            samples,
            "fustor_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/views/{ds}/tree",
        )
        assert tree == 3
        # route templates only: no label ever holds a request's concrete path
        assert not any("/api/v1/views/demo" in value for _, labels in samples for _, value in labels)
        assert sample(samples, "process_resident_memory_bytes") is not None
        ingest.close()
        query.close()


def _remote_app() -> httpx.AsyncClient:
    """The app as a client on another host reaches it (a loopback-only test cannot be one)."""
    config = copy.deepcopy(BASE_CONFIG)
    app = create_app(parse_fusion_config(config), plugin_manager=get_plugin_manager(only=["storage-memory"]))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://fusion.example")


def test_from_another_host_a_query_key_sees_its_own_datastore_only() -> None:
    async def scenario() -> None:
        async with _remote_app() as client:
            assert (await client.get("/metrics")).status_code == 401
            assert (await client.get("/metrics", headers={"X-API-Key": INGEST_KEY})).status_code == 403
            answer = await client.get("/metrics", headers={"X-API-Key": OTHER_QUERY_KEY})
            assert answer.status_code == 200
            samples = parse_samples(answer.text)
            datastores = {dict(labels).get("datastore") for _, labels in samples} - {None}
            assert datastores == {"other"}
            assert sample(samples, "fustor_view_files", datastore="other") == 0

    asyncio.run(scenario())

"""``GET /metrics`` of a real ``fustor-agent run`` feeding a real Fusion, parsed with
``prometheus_client.parser``: the figures are the agent's own (rows sent, snapshot runs and
duration, the queue), and they agree with its status."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import httpx
from agent_testkit import API_TOKEN, AgentProcess, FusionProcess, wait_for

from fustor_agent.agent import Agent
from fustor_agent.api import create_app
from fustor_agent.config import AgentConfig
from fustor_core.metrics import parse_samples, sample

FILES = 25


def _scrape(url: str) -> dict:  # type: ignore[type-arg]
    answer = httpx.get(url + "/metrics", timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return parse_samples(answer.text)


def test_a_scrape_counts_the_snapshot_and_the_rows_sent(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    for i in range(FILES):
        (tree / f"f{i}").write_bytes(b"x" * i)
    agent = start_agent(tree)
    wait_for(lambda: agent.runs("snapshot") >= 1, 20, "the first snapshot")
    wait_for(lambda: agent.status()["bus"]["depth"] == 0, 10, "the queue to drain")

    samples = _scrape(agent.api_url)  # from 127.0.0.1: no token
    status = agent.status()

    sent = sample(samples, "fustor_agent_rows_sent_total", pipe="demo")
    assert sent == status["counters"]["rows_sent"] and sent is not None and sent >= FILES
    assert sample(samples, "fustor_agent_mode_runs_total", pipe="demo", mode="snapshot") == 1
    duration = sample(samples, "fustor_agent_mode_last_duration_seconds", pipe="demo", mode="snapshot")
    assert duration == status["modes"]["snapshot"]["last_duration_s"]
    assert sample(samples, "fustor_agent_queue_rows", pipe="demo") == 0
    assert sample(samples, "fustor_agent_queue_capacity_rows", pipe="demo") == status["bus"]["capacity"]
    assert (
        sample(samples, "fustor_agent_backpressure_waits_total", pipe="demo")
        == status["bus"]["producer_waits"]
    )
    assert sample(samples, "fustor_agent_inotify_overflows_total", pipe="demo") == 0
    assert sample(samples, "fustor_agent_leader", pipe="demo", datastore="demo") == 1
    assert sample(samples, "fustor_agent_info", agent_id="agent-a", version=_version()) == 1
    status_count = sample(
        samples, "fustor_http_request_duration_seconds_count", method="GET", route="/api/v1/status"
    )
    assert status_count is not None and status_count >= 1


def _version() -> str:
    from fustor_agent import __version__

    return __version__


def test_from_another_host_metrics_need_the_bearer_token(tmp_path: Path) -> None:
    """The rule only: a client address that is not loopback cannot be had on a loopback-only
    test host, so the app is called in process as if from 192.0.2.7."""
    config = AgentConfig.model_validate(
        {
            "api": {"token": API_TOKEN},
            "pipes": [
                {
                    "datastore": "demo",
                    "source": {"driver": "fs", "path": str(tmp_path)},
                    "pusher": {"driver": "http", "url": "http://127.0.0.1:9", "api_key": "k"},
                }
            ],
        }
    )
    app = create_app(Agent(config), token=API_TOKEN)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://agent.example") as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            answer = await client.get("/metrics", headers={"Authorization": f"Bearer {API_TOKEN}"})
            assert answer.status_code == 200
            assert sample(parse_samples(answer.text), "fustor_agent_queue_rows", pipe="demo") == 0

    asyncio.run(scenario())

"""The agent's own API and command line, without Fusion where none is needed."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from agent_testkit import API_TOKEN, BIN, AgentProcess, FusionProcess, wait_for
from starlette.applications import Starlette

from fustor_agent.agent import Agent
from fustor_agent.api import create_app
from fustor_agent.config import AgentConfig
from fustor_core.config import parse_config
from fustor_core.errors import ConfigError, PluginError


def agent_config(tree: Path, **pipe: object) -> AgentConfig:
    return parse_config(
        AgentConfig,
        {
            "agent_id": "unit",
            "pipes": [
                {
                    "datastore": "demo",
                    "source": {"driver": "fs", "path": str(tree)},
                    "pusher": {"driver": "http", "url": "http://127.0.0.1:9", "api_key": "k"},
                    **pipe,
                }
            ],
        },
    )


def test_status_is_open_and_triggers_need_a_configured_token(tree: Path) -> None:
    agent = Agent(agent_config(tree))

    async def scenario() -> None:
        async with client_for(create_app(agent, token=None)) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}
            status = (await client.get("/api/v1/status")).json()
            assert status["agent_id"] == "unit" and status["pipes"][0]["source"]["uri"] == f"fs://{tree}"
            response = await client.post("/api/v1/pipes/demo/audit", headers={"Authorization": "Bearer x"})
            assert response.status_code == 403 and "api.token" in response.json()["error"]["message"]
        async with client_for(create_app(agent, token="secret")) as client:
            headers = {"Authorization": "Bearer secret"}
            assert (await client.post("/api/v1/pipes/demo/audit")).status_code == 401
            not_leader = await client.post("/api/v1/pipes/demo/audit", headers=headers)
            assert not_leader.status_code == 409 and "not leader" in not_leader.json()["error"]["message"]
            assert (await client.post("/api/v1/pipes/nope/audit", headers=headers)).status_code == 404
            assert (await client.post("/api/v1/pipes/demo/reboot", headers=headers)).status_code == 404
            realtime = await client.post("/api/v1/pipes/demo/realtime", headers=headers)
            assert realtime.status_code == 404
            assert realtime.json()["error"]["message"] == (
                "pipe 'demo' cannot trigger the mode 'realtime' (triggerable: snapshot, audit, sentinel)"
            )
            sentinel = await client.post("/api/v1/pipes/demo/sentinel", headers=headers)
            assert sentinel.status_code == 409, "triggerable (it says so), but only on the leader"

    asyncio.run(scenario())


def test_a_trigger_body_is_validated_before_anything_runs(tree: Path) -> None:
    agent = Agent(agent_config(tree))

    async def scenario() -> None:
        async with client_for(create_app(agent, token="secret")) as client:
            headers = {"Authorization": "Bearer secret"}
            for body in (b"not json", b"[1]", b'{"deep": "yes"}', b'{"dep": true}', b'{"deep": 1}'):
                answer = await client.post("/api/v1/pipes/demo/audit", headers=headers, content=body)
                assert answer.status_code == 422, body
                assert answer.json()["error"]["code"] == "invalid", body
            snapshot = await client.post("/api/v1/pipes/demo/snapshot", headers=headers, json={"deep": True})
            assert snapshot.status_code == 422 and "deep" in snapshot.json()["error"]["message"]
            # a good body (or none) gets as far as the pipe, which is not leading here
            for kwargs in ({"json": {"deep": True}}, {"json": {}}, {}):
                answer = await client.post("/api/v1/pipes/demo/audit", headers=headers, **kwargs)
                assert answer.status_code == 409, kwargs
            status = (await client.get("/api/v1/status")).json()
            assert status["pipes"][0]["stat_errors"] == {}

    asyncio.run(scenario())


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


def test_a_missing_driver_or_mode_is_named(tree: Path) -> None:
    with pytest.raises(PluginError, match=r"pipes\.0\.source\.driver: no source driver 's3'"):
        Agent(
            agent_config(tree).model_copy(
                update={
                    "pipes": [
                        agent_config(tree)
                        .pipes[0]
                        .model_copy(
                            update={
                                "source": agent_config(tree)
                                .pipes[0]
                                .source.model_copy(update={"driver": "s3"})
                            }
                        )
                    ]
                }
            )
        )
    with pytest.raises(ConfigError, match=r"pipes\.0\.modes\.turbo: no sync mode 'turbo' is installed"):
        Agent(agent_config(tree, modes=["realtime", "turbo"]))
    with pytest.raises(ConfigError, match=r"pipes\.0\.source: watch_stepp_ms: Extra inputs"):
        Agent(
            parse_config(
                AgentConfig,
                {
                    "pipes": [
                        {
                            "datastore": "demo",
                            "source": {"driver": "fs", "path": str(tree), "watch_stepp_ms": 1},
                            "pusher": {"driver": "http", "url": "http://x", "api_key": "k"},
                        }
                    ]
                },
            )
        )


def test_run_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text("pipes:\n  - datastore: demo\n    sorce: {driver: fs, path: /}\n")
    result = subprocess.run(
        [str(BIN / "fustor-agent"), "run", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "pipes.0.sorce" in result.stderr and "pipes.0.source" in result.stderr


def agent_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``fustor-agent ARGS`` as a user runs it."""
    return subprocess.run([str(BIN / "fustor-agent"), *args], capture_output=True, text=True, timeout=30)


def test_status_and_trigger_commands_talk_to_a_running_agent(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(tree, modes={"audit": {"interval_s": 3600}})
    wait_for(lambda: agent.runs("snapshot") == 1, 10, "the snapshot")
    port = str(agent.api_port)

    def trigger(mode: str, *options: str) -> subprocess.CompletedProcess[str]:
        return agent_cli("trigger", mode, "demo", *options, "--port", port, "--token", API_TOKEN)

    status = agent_cli("status", "--port", port)
    assert status.returncode == 0, status.stderr
    assert "role     leader" in status.stdout and f"fs://{tree}" in status.stdout
    assert "started with snapshot (no_cache)" in status.stdout  # a first start: nothing to resume
    assert "cache    " in status.stdout and "saved " in status.stdout
    audit = trigger("audit")
    assert audit.returncode == 0, audit.stderr
    wait_for(lambda: agent.runs("audit") == 1, 10, "the triggered audit")
    assert agent.mode("audit")["deep"]["cycles_completed"] == 0
    deep = trigger("audit", "--deep")
    assert deep.returncode == 0 and "deep audit requested" in deep.stdout, deep.stderr
    wait_for(lambda: agent.runs("audit") == 2, 10, "the deep audit")
    audit_state = agent.mode("audit")
    assert audit_state["deep"]["cycles_completed"] == 1 and audit_state["deep_requested"] is True
    assert audit_state["dirs_deep_checked"] == audit_state["dirs_listed"] >= 1  # the whole tree and root
    sentinel = trigger("sentinel")
    assert sentinel.returncode == 0, sentinel.stderr
    realtime = trigger("realtime")
    assert realtime.returncode == 2
    assert "cannot trigger the mode 'realtime' (triggerable: snapshot, audit, sentinel)" in realtime.stderr
    nobody = agent_cli("status", "--port", "9")
    assert nobody.returncode == 2 and "no agent answers" in nobody.stderr


def test_without_fusion_the_agent_still_starts_watches_and_stops_promptly(tmp_path: Path, tree: Path) -> None:
    config = tmp_path / "agent.yaml"
    config.write_text(
        "shutdown_timeout_s: 0.5\n"
        "pipes:\n"
        "  - datastore: demo\n"
        f"    source: {{driver: fs, path: {tree}}}\n"
        "    pusher: {driver: http, url: 'http://127.0.0.1:9', api_key: k, retry_max_s: 0.2}\n"
    )
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "fustor-agent"), "run", "--config", str(config), "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: "realtime watching" in log.read_text(), 10, "the realtime watch")
        assert "api=disabled" in log.read_text()
        wait_for(lambda: "Fusion unreachable" in log.read_text(), 10, "the outage to be logged")
        process.terminate()
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert "agent stopped" in log.read_text()

"""The agent API on a real ``fustor-agent run`` process: one JSON error contract, an OpenAPI
document, and connection limits that slow or idle clients cannot outlast."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import schemathesis
import yaml
from agent_testkit import API_TOKEN, BIN
from openapi_spec_validator import validate

from fustor_core.http_testing import SlowClients, fuzz
from fustor_core.testing import free_port, wait_for

LIMITS = {"header_timeout_s": 1.5, "body_timeout_s": 1.5, "keep_alive_timeout_s": 1.0, "max_connections": 10}


@pytest.fixture
def agent_url(tmp_path: Path, tree: Path) -> Iterator[str]:
    """An agent (no Fusion behind it: the API does not need one) with small connection limits."""
    port = free_port()
    config = {
        "shutdown_timeout_s": 0.5,
        "api": {"token": API_TOKEN, "connections": LIMITS},
        "pipes": [
            {
                "datastore": "demo",
                "source": {"driver": "fs", "path": str(tree)},
                "pusher": {"driver": "http", "url": "http://127.0.0.1:9", "api_key": "k", "retry_max_s": 0.2},
            }
        ],
    }
    path = tmp_path / "agent.yaml"
    path.write_text(yaml.safe_dump(config))
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "fustor-agent"), "run", "--config", str(path), "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: process.poll() is not None or _answers(url + "/healthz"), 20, "the agent API")
        assert process.poll() is None, log.read_text()
        yield url
    finally:
        process.terminate()
        process.wait(15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _error(answer: httpx.Response) -> tuple[int, str]:
    assert answer.headers["content-type"] == "application/json", answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return answer.status_code, body["error"]["code"]


def test_every_refusal_is_json(agent_url: str) -> None:
    with httpx.Client(base_url=agent_url, follow_redirects=False) as client:
        assert _error(client.get("/nothing")) == (404, "not_found")
        assert _error(client.get("/api/v1/status/")) == (404, "not_found")  # no redirect
        assert _error(client.delete("/api/v1/status")) == (405, "method_not_allowed")
        assert _error(client.post("/api/v1/pipes/demo/audit")) == (401, "unauthorized")
        bearer = {"Authorization": f"Bearer {API_TOKEN}"}
        assert _error(client.post("/api/v1/pipes/demo/reboot", headers=bearer)) == (404, "not_found")
        assert _error(client.post("/api/v1/pipes/nope/audit", headers=bearer)) == (404, "not_found")
        assert _error(client.post("/api/v1/pipes/demo/audit", headers=bearer)) == (409, "conflict")
    port = int(agent_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"content-type: application/json" in head.lower()
    assert json.loads(body)["error"]["code"] == "bad_request"


def test_the_openapi_document_is_valid_and_lists_every_route(agent_url: str) -> None:
    document = httpx.get(agent_url + "/api/v1/openapi.json").json()
    validate(document)
    assert set(document["paths"]) == {
        "/healthz",
        "/api/v1/status",
        "/api/v1/openapi.json",
        "/metrics",
        "/api/v1/pipes/{name}/audit",
        "/api/v1/pipes/{name}/sentinel",
        "/api/v1/pipes/{name}/snapshot",
    }  # one trigger route per installed mode that says it is triggerable
    audit = document["paths"]["/api/v1/pipes/{name}/audit"]["post"]["requestBody"]
    assert audit["required"] is False  # no body: no options


def test_slow_and_idle_connections_beyond_the_limit_do_not_lock_out_a_real_client(agent_url: str) -> None:
    port = int(agent_url.rsplit(":", 1)[1])
    slow = SlowClients("127.0.0.1", port, path="/api/v1/pipes/demo/audit")
    try:
        for kind in ("silent", "half_head", "half_body"):
            slow.open(6, kind)  # 18 slow connections against a limit of 10
        started = time.monotonic()
        answer = httpx.get(agent_url + "/api/v1/status", timeout=5)
        assert answer.status_code == 200 and answer.json()["pipes"][0]["datastore"] == "demo"
        assert time.monotonic() - started < LIMITS["header_timeout_s"]
        assert slow.closed_by_server() >= 18 + 1 - LIMITS["max_connections"]
        slow.wait_all_closed(timeout_s=LIMITS["body_timeout_s"] + 5)
    finally:
        slow.close()


def test_the_agent_answers_as_its_openapi_document_says(agent_url: str) -> None:
    """Schema-driven fuzzing of the real agent API (bounded; the request count is printed)."""
    document = httpx.get(agent_url + "/api/v1/openapi.json").json()
    schema = schemathesis.openapi.from_dict(document)
    failures = fuzz(schema, agent_url, {"Authorization": f"Bearer {API_TOKEN}"}, service="agent")
    assert not failures, "\n\n".join(failures)

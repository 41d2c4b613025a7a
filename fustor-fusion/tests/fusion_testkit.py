"""Test kit for the Fusion HTTP tests: a real uvicorn server on 127.0.0.1, a controllable clock,
and small builders for event bodies. Imported by the tests through conftest's sys.path entry."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from starlette.applications import Starlette

from fustor_core.http_server import ConnectionLimits, uvicorn_config
from fustor_core.testing import free_port
from fustor_fusion.server import FusionServer
from fustor_fusion.service import FusionService

INGEST_KEY = "ingest-secret"
QUERY_KEY = "query-secret"
BOTH_KEY = "both-secret"
OTHER_INGEST_KEY = "other-ingest"
OTHER_QUERY_KEY = "other-query"

BASE_CONFIG: dict[str, Any] = {
    "session_timeout_s": 30,
    "hot_window_s": 600,
    "tick_interval_s": 0.05,
    "ordering_wait_s": 5,
    "journal": {"driver": "none"},  # durability has its own tests (test_journal_*.py)
    "datastores": {
        "demo": {
            "api_keys": [
                {"key": INGEST_KEY, "scopes": ["ingest"]},
                {"key": QUERY_KEY, "scopes": ["query"]},
                {"key": BOTH_KEY, "scopes": ["ingest", "query"]},
            ]
        },
        "other": {
            "api_keys": [
                {"key": OTHER_INGEST_KEY, "scopes": ["ingest"]},
                {"key": OTHER_QUERY_KEY, "scopes": ["query"]},
            ]
        },
    },
}

T0 = 1_700_000_000.0
"""The fake clock's start: the tests' "now"."""


# The smallest fusion.yaml as deployment scripts of earlier versions write it: the flat
# ``tombstone_ttl_s`` (now ``rules.merge-tombstone.ttl_s``) must keep working, with a warning.
MINIMAL = """\
# fusion.yaml
session_timeout_s: 30        # leader lock released after this long without a heartbeat
hot_window_s: 600            # a file younger than this (by the logical clock) is suspect
tombstone_ttl_s: 3600
datastores:
  demo:
    api_keys:
      - {key: "ingest-secret", scopes: [ingest]}
      - {key: "query-secret",  scopes: [query]}
"""


class FakeClock:
    """Fusion's clock under the test's control (read from the server thread, set from the test)."""

    def __init__(self, start: float = T0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def wait_until(condition: Callable[[], Any], *, timeout: float = 10.0, interval: float = 0.01) -> Any:
    """Poll ``condition`` until it is truthy (returned) or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


@contextlib.contextmanager
def serve_app(app: Starlette, port: int = 0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (``port``, or a free one) in a thread; yields the
    base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # TCP_NODELAY by asyncio
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    # the server Fusion runs in production: its protocol, timeouts and connection limit, and
    # its shutdown that ends change-feed clients first
    config = uvicorn_config(app, ConnectionLimits(), log_config=None, access_log=False, lifespan="on")
    server = FusionServer(config)
    app.state.fusion.stopping = lambda: server.should_exit  # as fustor-fusion serve does
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextlib.contextmanager
def fusion_process(workdir: Path, config: dict[str, Any]) -> Iterator[int]:
    """A real ``fustor-fusion serve`` process with ``config`` on a free 127.0.0.1 port; its port."""
    path = workdir / "fusion.yaml"
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = workdir / "fusion.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "fustor-fusion"),
                "serve",
                "--config",
                str(path),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: process.poll() is not None or _ready(port), timeout=20)
        assert process.poll() is None, log_path.read_text()
        yield port
    finally:
        process.terminate()
        process.wait(15)


def _ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class Fusion:
    """A running Fusion: its URL, app, clock, and clients that are closed with it."""

    url: str
    app: Starlette
    clock: FakeClock | None
    stopper: contextlib.ExitStack | None = None
    _clients: list[httpx.Client] = field(default_factory=list)

    def stop(self) -> None:
        """Stop serving now (lifespan shutdown runs: journals are closed)."""
        if self.stopper is not None:
            self.stopper.close()

    @property
    def service(self) -> FusionService:
        service: FusionService = self.app.state.fusion
        return service

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"X-API-Key": key} if key is not None else {}
        client = httpx.Client(base_url=self.url, headers=headers, timeout=30)
        self._clients.append(client)
        return client

    def agent(self, agent_id: str = "host-a", key: str = INGEST_KEY) -> Agent:
        return Agent(self.client(key), agent_id)

    def query(self, key: str = QUERY_KEY, datastore: str = "demo") -> Query:
        return Query(self.client(key), datastore)

    def close(self) -> None:
        for client in self._clients:
            client.close()


class Agent:
    """The client side of the ingest protocol, as thin as the tests need."""

    def __init__(self, http: httpx.Client, agent_id: str) -> None:
        self.http = http
        self.agent_id = agent_id
        self.sid = ""
        self.role = ""
        self.seq = 0

    def open(self) -> Agent:
        answer = self.http.post(
            "/api/v1/ingest/sessions", json={"agent_id": self.agent_id, "source_uri": "fs:///x"}
        )
        assert answer.status_code == 201, answer.text
        self.sid = answer.json()["session_id"]
        self.role = answer.json()["role"]
        self.seq = 0
        return self

    def url(self, suffix: str) -> str:
        return f"/api/v1/ingest/sessions/{self.sid}{suffix}"

    def heartbeat(self) -> httpx.Response:
        answer = self.http.post(self.url("/heartbeat"))
        if answer.status_code == 200:
            self.role = answer.json()["role"]
        return answer

    def send(self, *events: dict[str, Any], seq: int | str | None = "next") -> httpx.Response:
        body: dict[str, Any] = {"events": list(events)}
        if seq == "next":
            self.seq += 1
            body["seq"] = self.seq
        elif seq is not None:
            body["seq"] = seq
        return self.http.post(self.url("/events"), json=body)

    def send_ok(self, *events: dict[str, Any]) -> dict[str, Any]:
        answer = self.send(*events)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def signal(self, name: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return (
            self.http.post(self.url("/" + name), json=body)
            if body is not None
            else self.http.post(self.url("/" + name))
        )

    def signal_ok(self, name: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.signal(name, body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


class Query:
    """The query API of one datastore."""

    def __init__(self, http: httpx.Client, datastore: str) -> None:
        self.http = http
        self.datastore = datastore

    def get(self, what: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/api/v1/views/{self.datastore}/{what}", params=params)

    def ok(self, what: str, **params: Any) -> Any:
        answer = self.get(what, **params)
        assert answer.status_code == 200, answer.text
        return answer.json()


StartFusion = Callable[..., Fusion]
"""The ``start_fusion`` fixture: ``start_fusion(rules=False, clock=False, extra_plugins=(), **config)``."""


def row(
    path: str, *, is_dir: bool = False, size: int = 0, mtime: float = T0 - 3600, **extra: Any
) -> dict[str, Any]:
    return {"path": path, "is_dir": is_dir, "size": size, "mtime": mtime, **extra}


def event(source: str, kind: str, *rows: dict[str, Any], index_s: float = T0) -> dict[str, Any]:
    return {"message_source": source, "event_type": kind, "index": int(index_s * 1000), "rows": list(rows)}


def error_of(answer: httpx.Response) -> tuple[int, str, str]:
    """(status, code, message) of an error answer, checking its shape on the way."""
    body = answer.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in answer.text
    return answer.status_code, body["error"]["code"], body["error"]["message"]


def fusion_command() -> list[str]:
    """How to run ``fustor-fusion`` as an operator would (the venv's script)."""
    script = shutil.which("fustor-fusion", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "fustor_fusion.cli"]

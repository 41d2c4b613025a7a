"""A real Fusion on 127.0.0.1 for the client's tests, fed through its ingest API from a real
directory tree, and the ``fustor`` command run as a subprocess against it.

Fusion runs in this process (uvicorn in a thread, the server Fusion runs in production) so that
a test can add a plugin object, e.g. one that marks directories complete; the commands under
test run as separate processes, as a person runs them.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from fustor_core.http_server import ConnectionLimits, uvicorn_config
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config

INGEST_KEY = "ingest-secret"
QUERY_KEY = "query-secret"
OTHER_KEY = "other-query"
DEFAULT_RULES = ["storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]
FUSTOR = str(Path(sys.executable).with_name("fustor"))


def fusion_config() -> dict[str, Any]:
    return {
        "session_timeout_s": 3600,
        "hot_window_s": 600,
        "journal": {"driver": "none"},
        "datastores": {
            "demo": {
                "api_keys": [
                    {"key": INGEST_KEY, "scopes": ["ingest"]},
                    {"key": QUERY_KEY, "scopes": ["query"]},
                ]
            },
            "other": {"api_keys": [{"key": OTHER_KEY, "scopes": ["query"]}]},
        },
    }


def wait_until(condition: Callable[[], Any], *, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(0.01)


@dataclass
class Fusion:
    url: str
    leader: Ingest | None = None

    def ingest(self) -> Ingest:
        """The leader's session (opened on first use: a second session would be a follower)."""
        if self.leader is None:
            http = httpx.Client(base_url=self.url, headers={"X-API-Key": INGEST_KEY}, timeout=30)
            self.leader = Ingest(http)
        return self.leader

    def query(self, route: str, **params: Any) -> httpx.Response:
        return httpx.get(
            f"{self.url}/api/v1/views/demo{route}",
            params=params,
            headers={"X-API-Key": QUERY_KEY},
            timeout=30,
        )


@contextlib.contextmanager
def serve_fusion(extra_plugins: Iterable[Any] = ()) -> Iterator[Fusion]:
    """A Fusion with the default rules (plus ``extra_plugins``) on a free loopback port."""
    pm = get_plugin_manager(only=DEFAULT_RULES, exclude=(), extra=extra_plugins)
    app = create_app(parse_fusion_config(fusion_config()), plugin_manager=pm)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(app, ConnectionLimits(), log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started or not thread.is_alive())
        assert server.started, "uvicorn did not start"
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(url + "/readyz").status_code == 200)
        yield Fusion(url)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


class Ingest:
    """The leader's side of the ingest protocol, as thin as these tests need."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        answer = http.post("/api/v1/ingest/sessions", json={"agent_id": "host-a", "source_uri": "fs:///t"})
        assert answer.status_code == 201, answer.text
        self.sid = answer.json()["session_id"]
        self.seq = 0

    def send(self, rows: list[dict[str, Any]], source: str = "snapshot", kind: str = "insert") -> None:
        for start in range(0, len(rows), 5000):
            self.seq += 1
            event = {
                "message_source": source,
                "event_type": kind,
                "index": int(time.time() * 1000),
                "rows": rows[start : start + 5000],
            }
            answer = self.http.post(
                f"/api/v1/ingest/sessions/{self.sid}/events", json={"events": [event], "seq": self.seq}
            )
            assert answer.status_code == 200, answer.text
            assert answer.json()["dropped"] == 0, answer.json()


def rows_of(root: Path) -> list[dict[str, Any]]:
    """One ingest row per file and directory below ``root`` (itself excluded), from ``lstat``:
    the view then holds exactly what GNU find sees there."""
    rows = []
    for here, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            full = Path(here, name)
            st = full.lstat()
            rows.append(
                {
                    "path": "/" + full.relative_to(root).as_posix(),
                    "is_dir": full.is_dir(),
                    "size": st.st_size,
                    "mtime": st.st_mtime,
                }
            )
    return rows


def fustor(
    fusion: Fusion | None,
    *args: str,
    env: dict[str, str] | None = None,
    key: str = QUERY_KEY,
    timeout: float = 60,
) -> subprocess.CompletedProcess[bytes]:
    """``fustor ARGS`` as a subprocess, pointed at ``fusion`` through the environment."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")}
    if fusion is not None:
        full_env.update(FUSTOR_URL=fusion.url, FUSTOR_API_KEY=key, FUSTOR_DATASTORE="demo")
    full_env.update(env or {})
    return subprocess.run([FUSTOR, *args], capture_output=True, env=full_env, timeout=timeout, check=False)


def lines(result: subprocess.CompletedProcess[bytes]) -> list[str]:
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()

"""``fustor watch [PATH]``: the change feed, tailed.

The first test runs against a real Fusion's feed (``GET .../changes?since&wait&path``); the
second holds the command to the route's documented contract with a small server that plays what
a real Fusion rarely shows on demand (a reset between two pages).
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from clientkit import FUSTOR, QUERY_KEY, Fusion, serve_fusion, wait_until
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class Lines:
    """A running ``fustor watch`` and the lines it printed so far."""

    def __init__(self, url: str, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")}
        env.update(FUSTOR_URL=url, FUSTOR_API_KEY=QUERY_KEY, FUSTOR_DATASTORE="demo")
        self.process = subprocess.Popen(
            [FUSTOR, "watch", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []
        threading.Thread(target=self._read, args=(self.process.stdout, self.lines.put), daemon=True).start()
        threading.Thread(
            target=self._read, args=(self.process.stderr, self.errors.append), daemon=True
        ).start()

    @staticmethod
    def _read(stream: Any, sink: Any) -> None:
        for raw in stream:
            sink(raw.decode().rstrip("\n"))

    def next(self, timeout: float = 20) -> str:
        return self.lines.get(timeout=timeout)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def fusion() -> Iterator[Fusion]:
    with serve_fusion() as served:
        served.ingest().send([{"path": "/up", "is_dir": True, "size": 0, "mtime": 1.0e9}])
        yield served


def test_watch_prints_a_change_made_after_it_started(fusion: Fusion) -> None:
    import httpx

    # the position before the change, so the change is the watch's whatever its start-up time
    position = httpx.get(
        fusion.url + "/api/v1/views/demo/changes", headers={"X-API-Key": QUERY_KEY}, params={"path": "/up"}
    ).json()["next"]
    watch = Lines(fusion.url, "/up", "--since", position)
    try:
        fusion.ingest().send(
            [{"path": "/up/new.dat", "is_dir": False, "size": 7, "mtime": 1.0e9}], "realtime"
        )
        line = watch.next()
        while "/up/new.dat" not in line:
            line = watch.next()
        assert line.split()[0] == "upsert" and line.split()[2] == "7"
    finally:
        watch.stop()


def feed_contract_server() -> tuple[Starlette, list[dict[str, Any]]]:
    """A server playing the feed's contract: a first answer without ``since`` (the position),
    two changes, then a reset, then nothing (a long poll that waits ``wait`` seconds)."""
    asked: list[dict[str, Any]] = []
    pages = {
        None: {"changes": [], "next": "c0", "reset": False},
        "c0": {
            "changes": [
                {
                    "seq": 1,
                    "op": "upsert",
                    "path": "/up/a.dat",
                    "is_dir": False,
                    "size": 5,
                    "mtime": 1.0e9,
                    "integrity_suspect": True,
                    "agent_missing": False,
                    "complete": False,
                },
                {
                    "seq": 2,
                    "op": "delete",
                    "path": "/up/old",
                    "is_dir": True,
                    "size": None,
                    "mtime": None,
                    "integrity_suspect": False,
                    "agent_missing": False,
                    "complete": False,
                },
            ],
            "next": "c2",
            "reset": False,
        },
        "c2": {"changes": [], "next": "c9", "reset": True},
        "c9": {
            "changes": [
                {
                    "seq": 1,
                    "op": "upsert",
                    "path": "/up/b",
                    "is_dir": True,
                    "size": 0,
                    "mtime": 1.0e9,
                    "integrity_suspect": False,
                    "agent_missing": True,
                    "complete": True,
                },
            ],
            "next": "c10",
            "reset": False,
        },
    }

    async def changes(request: Request) -> JSONResponse:
        import asyncio

        params = dict(request.query_params)
        asked.append(params)
        if request.headers.get("x-api-key") != QUERY_KEY:
            return JSONResponse({"error": {"code": "unauthorized", "message": "bad key"}}, status_code=401)
        since = params.get("since")
        if since in pages:
            return JSONResponse(pages[since])
        await asyncio.sleep(min(float(params.get("wait", 0)), 1))
        return JSONResponse({"changes": [], "next": since, "reset": False})

    return Starlette(routes=[Route("/api/v1/views/demo/changes", changes)]), asked


def test_watch_follows_the_feed_contract() -> None:
    app, asked = feed_contract_server()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started)
        watch = Lines(f"http://127.0.0.1:{sock.getsockname()[1]}", "/up")
        try:
            first, second, third = watch.next(), watch.next(), watch.next()
        finally:
            watch.stop()
        assert first.split() == ["upsert", "-S--", "5", *first.split()[3:5], "/up/a.dat"]
        assert second.split() == ["delete", "/up/old"]
        assert third.split()[:2] == ["upsert", "d-BC"] and third.endswith("/up/b")
        assert any("reset" in line for line in watch.errors)
        assert [params.get("since") for params in asked[:4]] == [None, "c0", "c2", "c9"]
        assert all(params["path"] == "/up" for params in asked)
        assert all(float(params["wait"]) > 0 for params in asked[1:])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

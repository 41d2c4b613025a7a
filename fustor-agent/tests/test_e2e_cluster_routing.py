"""A real agent in front of a Fusion cluster: it follows the entry point's 307 to the owner, keeps
pushing there, and after a takeover (the owner killed, the entry point naming another node) goes
back to the entry point and ends up with the whole tree on the new owner.

The two owners are real ``fustor-fusion serve`` processes (memory-only journals); the entry point
is a small app that answers every call with ``307`` to the node it currently names — what a
Fusion node that does not own the view answers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from agent_testkit import INGEST_KEY, AgentProcess, FusionProcess, wait_for
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


class EntryPoint:
    """A node that owns nothing: every call is redirected to ``owner_url``."""

    def __init__(self, owner_url: str) -> None:
        self.owner_url = owner_url
        self.calls: list[str] = []

        async def redirect(request: Request) -> Response:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            self.calls.append(f"{request.method} {target}")
            body = {"error": {"code": "not_owner", "message": "not the owner", "owner_url": self.owner_url}}
            return JSONResponse(body, status_code=307, headers={"Location": self.owner_url + target})

        app = Starlette(routes=[Route("/{path:path}", redirect, methods=["GET", "POST", "DELETE"])])
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for(lambda: self.server.started, 10, "the entry point to start")
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def second_fusion(tmp_path: Path) -> Iterator[FusionProcess]:
    process = FusionProcess(tmp_path / "fusion-2")
    process.start()
    yield process
    process.stop()


def test_the_agent_follows_the_owner_and_moves_with_it_after_a_takeover(
    tree: Path,
    fusion: FusionProcess,
    second_fusion: FusionProcess,
    start_agent: Callable[..., AgentProcess],
) -> None:
    for i in range(30):
        (tree / f"before-{i}").write_bytes(b"b" * i)
    entry = EntryPoint(fusion.url)
    try:
        pusher = {
            "driver": "http",
            "url": [entry.url],
            "api_key": INGEST_KEY,
            "retry_max_s": 0.5,
            "timeout_s": 5.0,
        }
        agent = start_agent(tree, pusher=pusher)
        wait_for(lambda: fusion.matches(tree), 15, "the first sync, on the first owner")
        assert entry.calls == ["POST /api/v1/ingest/sessions"]  # then straight to the owner
        assert second_fusion.listing() == {}  # nothing went to the other node

        entry.owner_url = second_fusion.url  # the takeover: the entry point names the new owner
        fusion.kill()
        for i in range(20):
            (tree / f"after-{i}").write_bytes(b"a")
        wait_for(
            lambda: second_fusion.matches(tree),
            30,
            f"the tree on the new owner ({second_fusion.difference(tree)})",
        )
        assert len(entry.calls) >= 2  # asked again once the first owner was gone
        status = agent.status()
        assert status["counters"]["sessions_opened"] >= 2 and status["role"] == "leader"
        followed = [
            line for line in agent.log_path.read_text().splitlines() if "following Fusion owner" in line
        ]
        assert len(followed) == 2, followed
        assert fusion.url in followed[0] and second_fusion.url in followed[1]
    finally:
        entry.stop()

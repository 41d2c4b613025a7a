"""Serving the agent API with uvicorn inside the agent's own event loop.

The agent handles SIGINT/SIGTERM itself (flush, close sessions), so uvicorn must not install
its signal handlers; and the socket is bound here, so a port in use is a clear error instead of
uvicorn exiting the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Generator

import uvicorn
from starlette.applications import Starlette

from fustor_core.errors import ConfigError
from fustor_core.http_server import ConnectionLimits, listening_socket, uvicorn_config


class _EmbeddedServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ApiServer:
    """The API on ``host:port`` for as long as the agent runs."""

    def __init__(self, app: Starlette, host: str, port: int, limits: ConnectionLimits | None = None) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.limits = limits if limits is not None else ConnectionLimits()
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    def _bind(self) -> socket.socket:
        try:
            sock = listening_socket(self.host, self.port)
        except OSError as exc:
            raise ConfigError(
                f"api: cannot listen on {self.host}:{self.port}: {exc.strerror}; "
                "choose another api.port / --port, or --port 0 to disable the API"
            ) from None
        sock.listen(64)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        return sock

    async def start(self) -> None:
        sock = self._bind()
        config = uvicorn_config(self.app, self.limits, log_level="warning", access_log=False, lifespan="off")
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="fustor-agent-api")

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await asyncio.gather(self._task, return_exceptions=True)

"""Real HTTP servers on 127.0.0.1 playing the nodes of a Fusion cluster, for the routing tests.

Each :class:`FusionNode` is a threaded HTTP/1.1 server (the standard library's: this package's
tox env has no web framework) that plays one of a node's parts, switchable while it runs:

* ``owner`` — serves the ingest protocol with its own :class:`ScriptedFusion` (so, like a real
  node, it knows only the sessions opened on it);
* ``redirect(url)`` — not the owner: ``307`` with ``Location`` = the owner's base URL + the same
  path and query, and the ``not_owner`` error body Fusion sends;
* ``no_owner`` — ``503 no_owner`` with ``Retry-After: 1`` (nobody holds the view's lease).

:meth:`FusionNode.stop` closes the listening socket *and* every open connection, so the node is
gone for a client's pooled keep-alive connections too (a stopped standard-library server would
otherwise keep answering on them).
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from pusher_testkit import ScriptedFusion


class FusionNode:
    """One node on a free loopback port; ``url`` is its base URL."""

    def __init__(self, name: str, fusion: ScriptedFusion | None = None) -> None:
        self.name = name
        self.fusion = fusion or ScriptedFusion()
        """Its own by default (a new owner does not know the sessions of the old one)."""
        self.part = "owner"
        self.owner_url = ""
        self.requests: list[tuple[str, str]] = []
        """(method, path and query) of every request this node received, whatever it answered."""
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"node-{name}", daemon=True)
        self._thread.start()

    # -- parts ---------------------------------------------------------------------------------

    def owner(self) -> None:
        with self._lock:
            self.part = "owner"

    def redirect(self, owner: FusionNode | str) -> None:
        with self._lock:
            self.part = "redirect"
            self.owner_url = owner.url if isinstance(owner, FusionNode) else owner

    def no_owner(self) -> None:
        with self._lock:
            self.part = "no_owner"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def rows(self) -> list[str]:
        return self.fusion.rows()

    def paths(self, method: str | None = None) -> list[str]:
        return [path for verb, path in self.requests if method is None or verb == method]

    # -- serving -------------------------------------------------------------------------------

    def _answer(self, method: str, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append((method, target))
            if self.part == "redirect":
                location = self.owner_url + target
                error = {
                    "code": "not_owner",
                    "message": "another node owns this view",
                    "owner_url": self.owner_url,
                }
                return 307, {"Location": location}, json.dumps({"error": error}).encode()
            if self.part == "no_owner":
                error = {"code": "no_owner", "message": "no node owns this view yet"}
                return 503, {"Retry-After": "1"}, json.dumps({"error": error}).encode()
            response = self.fusion.handle(httpx.Request(method, self.url + target, content=body))
            return response.status_code, {}, response.read()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        node = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                with node._lock:
                    node._connections.add(self.connection)

            def finish(self) -> None:
                with node._lock:
                    node._connections.discard(self.connection)
                super().finish()

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, headers, content = node._answer(self.command, self.path, body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_DELETE = do_PUT = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test asserts on node.requests instead

        return Handler

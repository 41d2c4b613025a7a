"""Serving a Fustor HTTP API with uvicorn, with connection limits a hostile client cannot outlast.

uvicorn alone leaves three doors open (measured with uvicorn 0.29 to 0.54, h11 protocol):

* its only timer is the keep-alive timeout, armed *after* a response: a connection that never
  sends a byte, or sends half a request head, or a body one byte at a time, stays open for good;
* ``limit_concurrency`` does not limit connections: once that many are open (idle ones count),
  it answers every new *request* 503, so idle connections lock real clients out instead;
* its own refusals (a malformed request) are ``text/plain``.

:class:`GuardedH11Protocol` closes those doors, configured by :class:`ConnectionLimits` (the
``connections:`` section of every service's YAML):

* a request head must be complete within ``header_timeout_s`` of the connection opening (or of
  its first byte after a keep-alive pause), and its body within ``body_timeout_s`` of the head;
  otherwise the connection is closed;
* a connection idle between requests is closed after ``keep_alive_timeout_s`` (uvicorn's timer);
* at most ``max_connections`` are open: a new connection beyond that closes the *oldest one that
  is not being served* (idle, or still sending its request head) to make room — a crowd of slow
  or idle connections cannot keep a real client out — and only when every open connection has a
  request in the application is the new one answered 503 and closed;
* request heads are limited to ``max_header_bytes``; malformed requests answer JSON 400.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from typing import Any

import h11
import uvicorn
from pydantic import Field
from uvicorn.protocols.http.h11_impl import H11Protocol

from fustor_core.config import FustorConfig
from fustor_core.http_errors import error_bytes
from fustor_core.logs import log_event
from fustor_core.notify import ServiceNotifier

logger = logging.getLogger(__name__)


class ConnectionLimits(FustorConfig):
    """How long a client may take and how many connections are open at once."""

    header_timeout_s: float = Field(default=10.0, gt=0)
    """A request's line and headers must arrive within this many seconds of the connection
    opening (or of the request's first byte, after a keep-alive pause)."""
    body_timeout_s: float = Field(default=60.0, gt=0)
    """A request's body must arrive within this many seconds of its head."""
    keep_alive_timeout_s: float = Field(default=5.0, gt=0)
    """A connection idle between two requests is closed after this many seconds."""
    max_connections: int = Field(default=1000, ge=1)
    """Open connections at most. Beyond it the oldest connection that is not being served is
    closed to make room; keep it below the process's file-descriptor limit (``ulimit -n``)."""
    max_header_bytes: int = Field(default=16384, ge=1024)
    """Largest request head (request line and headers); a larger one is answered 400."""


_HEAD, _BODY, _APP, _IDLE = "head", "body", "app", "idle"
"""A connection's phase: waiting for a request head, receiving its body, in the application,
idle between requests (keep-alive)."""


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with request deadlines and a connection limit (see the module)."""

    limits = ConnectionLimits()
    """Replaced per server by :func:`protocol_for`."""

    _phase = _HEAD
    _since = 0.0
    _deadline: asyncio.TimerHandle | None = None

    # -- connection lifecycle --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._enter(_HEAD, self.limits.header_timeout_s)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            _STATS.refused += 1
            _STATS.report()
            self._refuse_busy()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._phase == _IDLE:  # the next request starts: its head has a deadline again
            self._enter(_HEAD, self.limits.header_timeout_s)
        super().data_received(data)
        self._follow_request()

    def on_response_complete(self) -> None:
        self._enter(_IDLE, None)  # uvicorn arms its keep-alive timer
        super().on_response_complete()
        self._follow_request()  # a pipelined request may already be in

    def send_400_response(self, msg: str) -> None:
        """A malformed request, answered in the JSON error contract instead of text/plain."""
        body = error_bytes("bad_request", msg)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        try:
            for event in (
                h11.Response(status_code=400, headers=headers),
                h11.Data(data=body),
                h11.EndOfMessage(),
            ):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:
            pass  # a response had started already: nothing sensible to add
        self.transport.close()

    # -- request phases --------------------------------------------------------------------------

    def _follow_request(self) -> None:
        """Move the phase along with h11's view of the client's side of the exchange."""
        state = self.conn.their_state
        if state is h11.IDLE:
            return  # no request head yet: the phase (head deadline, or keep-alive idle) holds
        if state is h11.SEND_BODY:
            if self._phase != _BODY:
                self._enter(_BODY, self.limits.body_timeout_s)
        elif self._phase != _APP:
            self._enter(_APP, None)

    def _enter(self, phase: str, timeout_s: float | None) -> None:
        self._cancel_deadline()
        self._phase = phase
        self._since = time.monotonic()
        if timeout_s is not None:
            self._deadline = self.loop.call_later(timeout_s, self._too_slow, phase)

    def _cancel_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, phase: str) -> None:
        self._deadline = None
        if self._phase != phase or self.transport.is_closing():
            return
        _STATS.timed_out += 1
        _STATS.report()
        if phase == _BODY and self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()

    # -- the connection limit --------------------------------------------------------------------

    def _make_room(self) -> bool:
        """Close the oldest connection that is not being served; False if every one is."""
        candidates = [
            other
            for other in self.connections
            if other is not self
            and isinstance(other, GuardedH11Protocol)
            and other._phase in (_HEAD, _IDLE)
            and not other.transport.is_closing()
        ]
        if not candidates:
            return False
        oldest = min(candidates, key=lambda other: other._since)
        _STATS.evicted += 1
        _STATS.report()
        oldest.transport.close()
        self.connections.discard(oldest)
        return True

    def _refuse_busy(self) -> None:
        body = error_bytes("unavailable", "too many open connections; retry shortly")
        head = (
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
            b"connection: close\r\nretry-after: 1\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
        )
        self._cancel_deadline()
        self.transport.write(head + body)
        self.transport.close()


class _LimitStats:
    """Counts of connections closed by the limits, logged at most once a minute (an attack must
    not flood the log)."""

    def __init__(self) -> None:
        self.timed_out = 0
        self.evicted = 0
        self.refused = 0
        self._logged_at = 0.0

    def report(self) -> None:
        now = time.monotonic()
        if now - self._logged_at < 60.0:
            return
        self._logged_at = now
        log_event(
            logger,
            logging.WARNING,
            "connections closed by the limits",
            timed_out=self.timed_out,
            evicted_for_room=self.evicted,
            refused_busy=self.refused,
        )


_STATS = _LimitStats()


def protocol_for(limits: ConnectionLimits) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn instantiates per connection, bound to ``limits``."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {"limits": limits})


def uvicorn_config(app: Any, limits: ConnectionLimits, **options: Any) -> uvicorn.Config:
    """A uvicorn config serving ``app`` under ``limits`` (``options``: any other uvicorn setting)."""
    return uvicorn.Config(
        app,
        http=protocol_for(limits),
        timeout_keep_alive=limits.keep_alive_timeout_s,  # type: ignore[arg-type]  # float works
        h11_max_incomplete_event_size=limits.max_header_bytes,
        limit_concurrency=None,  # see the module docstring: it would lock real clients out
        **options,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (so the caller knows the real port before serving).

    ``IPPROTO_TCP`` explicitly: asyncio sets TCP_NODELAY only on sockets that say they are TCP,
    and without it small answers wait ~40 ms for a delayed ACK (Nagle). Raises OSError.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


class NotifyingServer(uvicorn.Server):
    """A uvicorn server that tells the service manager ``STOPPING=1`` as soon as a stop signal
    arrives (uvicorn then drains connections and runs the lifespan shutdown, which can take a
    while: systemd should know the service is on its way out, not hung)."""

    def __init__(self, config: uvicorn.Config, notifier: ServiceNotifier) -> None:
        super().__init__(config)
        self.notifier = notifier

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.notifier.stopping()
        super().handle_exit(sig, frame)

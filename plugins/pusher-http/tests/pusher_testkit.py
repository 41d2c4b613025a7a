"""A scripted stand-in for Fusion's ingest protocol, plugged in as the pusher's httpx transport.

This package is tested alone (its tox env has no Fusion), and what matters here — a response
lost *after* Fusion applied a batch, a 413, a session Fusion forgot — cannot be provoked on
demand from a real server. So :class:`ScriptedFusion` speaks the protocol of
``fustor-fusion/README.md`` ("Ingest protocol") just enough, records every request, and runs
scripted faults. The agent's end-to-end tests run the same pusher against the real Fusion.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx

from fustor_core.agent_api import OutgoingEvent, SessionInfo, Signal, StreamItem
from fustor_pusher_http import HttpPusher, HttpPusherOptions

Fault = Callable[[httpx.Request, "ScriptedFusion"], httpx.Response | None]


def error(status: int, code: str, message: str = "scripted") -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message}})


@dataclass
class FakeSession:
    session_id: str
    role: str
    applied_seq: int = 0
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)


class ScriptedFusion:
    """Sessions, ordered idempotent batches, signals, heartbeats; plus injected faults."""

    def __init__(self) -> None:
        self.sessions: dict[str, FakeSession] = {}
        self.requests: list[tuple[str, str, Any]] = []
        self.applied: list[tuple[str, int, list[dict[str, Any]]]] = []
        self.signals: list[tuple[str, str, dict[str, Any]]] = []
        self.faults: list[Fault] = []
        self.next_role = "leader"
        self.max_batch_rows: int | None = None
        self._counter = 0

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def rows(self) -> list[str]:
        return [row["path"] for _, _, events in self.applied for event in events for row in event["rows"]]

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if self.faults:
            response = self.faults.pop(0)(request, self)
            if response is not None:
                return response
        return self.route(request, body)

    def route(self, request: httpx.Request, body: Any) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")  # api v1 ingest sessions [sid] [tail...]
        if parts[:4] != ["api", "v1", "ingest", "sessions"]:
            return error(404, "not_found")
        if len(parts) == 4:
            self._counter += 1
            sid = f"s-{self._counter}"
            self.sessions[sid] = FakeSession(sid, self.next_role)
            self.next_role = "follower" if self.next_role == "leader" else self.next_role
            return httpx.Response(201, json={"session_id": sid, "role": self.sessions[sid].role})
        session = self.sessions.get(parts[4])
        if session is None:
            return error(409, "session_expired")
        tail = "/".join(parts[5:])
        if request.method == "DELETE":
            del self.sessions[session.session_id]
            return httpx.Response(200, json={"closed": True})
        if tail == "heartbeat":
            return httpx.Response(200, json={"role": session.role, "applied_seq": session.applied_seq})
        if tail == "events":
            rows = sum(len(event["rows"]) for event in body["events"])
            if self.max_batch_rows is not None and rows > self.max_batch_rows:
                return error(413, "payload_too_large")
            seq = body["seq"]
            if seq in session.answers:
                return httpx.Response(200, json={**session.answers[seq], "duplicate": True})
            if seq != session.applied_seq + 1:
                return error(409, "seq_gap")
            session.applied_seq = seq
            self.applied.append((session.session_id, seq, body["events"]))
            session.answers[seq] = {"accepted": rows, "dropped": 0, "unchanged": 0, "reasons": {}, "seq": seq}
            return httpx.Response(200, json={**session.answers[seq], "duplicate": False})
        if tail in ("snapshot/start", "snapshot/end", "audit/start", "audit/end"):
            if session.role != "leader":
                return error(409, "not_leader")
            self.signals.append((session.session_id, tail, body or {}))
            return httpx.Response(
                200, json={"signal": tail, "applied_seq": session.applied_seq, "deleted": 0}
            )
        if tail == "sentinel/tasks":
            return httpx.Response(200, json={"paths": ["/a", "/b"]})
        if tail == "sentinel/feedback":
            return httpx.Response(200, json={"accepted": len(body["updates"]), "dropped": 0})
        return error(404, "not_found")


class ListLink:
    """A :class:`~fustor_core.agent_api.PusherLink` over a plain queue of items."""

    def __init__(self, *, batch_size: int = 1000, heartbeat_interval_s: float = 10.0) -> None:
        self.agent_id = "host-t"
        self.source_uri = "fs:///t"
        self.settings = SimpleNamespace(
            batch_size=batch_size,
            flush_interval_s=0.0,
            heartbeat_interval_s=heartbeat_interval_s,
            audit_interval_s=600.0,
            sentinel_interval_s=120.0,
            bus_capacity=10_000,
        )
        self.items: asyncio.Queue[StreamItem | None] = asyncio.Queue()
        self.sessions: list[SessionInfo | None] = []
        self.counters: Counter[str] = Counter()
        self.errors: list[str] = []
        self.tenure: int | None = 1

    def put(self, *items: StreamItem) -> None:
        for item in items:
            self.items.put_nowait(item)

    def close(self) -> None:
        self.items.put_nowait(None)

    async def take(self, max_rows: int, linger_s: float = 0.0) -> list[StreamItem]:
        first = await self.items.get()
        if first is None:
            self.items.put_nowait(None)
            return []
        taken = [first]
        rows = len(first.rows) if isinstance(first, OutgoingEvent) else 1
        while not self.items.empty():
            peek = self.items._queue[0]  # type: ignore[attr-defined]
            if peek is None:
                break
            size = len(peek.rows) if isinstance(peek, OutgoingEvent) else 1
            if rows + size > max_rows:
                break
            taken.append(self.items.get_nowait())  # type: ignore[arg-type]
            rows += size
        return taken

    def is_current(self, item: StreamItem) -> bool:
        return item.tenure is None or item.tenure == self.tenure

    def session_changed(self, session: SessionInfo | None) -> None:
        self.sessions.append(session)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def error(self, message: str) -> None:
        self.errors.append(message)


def event(*paths: str, source: str = "realtime", tenure: int | None = None) -> OutgoingEvent:
    return OutgoingEvent(
        source, "insert", [{"path": p, "size": 1, "mtime": 1.0} for p in paths], tenure=tenure
    )  # type: ignore[arg-type]


class AwaitableSignal(Signal):
    """A signal whose outcome the test awaits through ``done``."""

    done: asyncio.Future[dict[str, Any]]


def signal(name: str, tenure: int | None = 1) -> AwaitableSignal:
    return AwaitableSignal(name=name, tenure=tenure, done=asyncio.get_running_loop().create_future())


def pusher(fusion: ScriptedFusion, **options: Any) -> HttpPusher:
    settings = {"url": "http://fusion.test", "api_key": "k", "retry_initial_s": 0.001, "retry_max_s": 0.01}
    return HttpPusher(HttpPusherOptions(**{**settings, **options}), transport=fusion.transport())


async def deliver(fusion: ScriptedFusion, link: ListLink, **options: Any) -> HttpPusher:
    """Run a pusher until the link is drained; the pusher is returned for inspection."""
    instance = pusher(fusion, **options)
    link.close()
    await asyncio.wait_for(instance.run(link), 10)
    return instance

"""A small query is answered before the large answers that were asked for just before it
(real ``fustor-fusion serve`` process). Ordering, not timing: which answers complete first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import yaml
from fusion_testkit import INGEST_KEY, MINIMAL, QUERY_KEY, fusion_process

LARGE = 24
"""Concurrent clients each asking for a 6,000-entry page."""
ENTRIES = 6000


def _load(port: int) -> None:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": INGEST_KEY}, timeout=30
    ) as c:
        sid = c.post("/api/v1/ingest/sessions", json={"agent_id": "t"}).json()["session_id"]
        rows = [{"path": f"/big/f{i:05d}", "size": i, "mtime": 1.0} for i in range(ENTRIES)]
        event = {"message_source": "snapshot", "event_type": "insert", "index": 1, "rows": rows}
        assert c.post(f"/api/v1/ingest/sessions/{sid}/events", json={"events": [event]}).status_code == 200


async def _send(port: int, target: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"GET {target} HTTP/1.1\r\nHost: x\r\nX-API-Key: {QUERY_KEY}\r\nConnection: close\r\n\r\n".encode()
    )
    await writer.drain()
    return reader, writer


async def _receive(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str, done: list[str]
) -> None:
    answer = await reader.read()  # until the server closes: the whole answer
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    done.append(name)
    writer.close()


async def _race(port: int) -> list[str]:
    """Send every large request, then the small one; the order in which the answers complete."""
    large = [await _send(port, f"/api/v1/views/demo/tree?path=/big&limit={ENTRIES}") for _ in range(LARGE)]
    small = await _send(port, "/api/v1/views/demo/stats")
    done: list[str] = []
    await asyncio.gather(
        *(_receive(reader, writer, f"large{i}", done) for i, (reader, writer) in enumerate(large)),
        _receive(*small, "stats", done),
    )
    return done


def test_stats_is_answered_before_most_large_answers_asked_just_before(tmp_path: Path) -> None:
    with fusion_process(tmp_path, yaml.safe_load(MINIMAL)) as port:
        _load(port)
        order = asyncio.run(_race(port))
    # FIFO would answer it after every large request already received (last, or nearly); it is
    # answered as soon as the large answer being built is done
    assert order.index("stats") < LARGE // 2, order

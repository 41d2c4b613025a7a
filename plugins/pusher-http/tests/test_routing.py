"""Finding the owner of the view in a Fusion cluster: 307s followed and remembered, entry points
and the Registry asked again when the node in use is gone. Real HTTP servers on 127.0.0.1
(:mod:`fusion_node`); the pusher talks to them over real sockets."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fusion_node import FusionNode
from pusher_testkit import ListLink, ScriptedFusion, event, signal

from fustor_pusher_http import HttpPusher, HttpPusherOptions
from fustor_pusher_http.routing import base_of

FAST = {"api_key": "k", "retry_initial_s": 0.01, "retry_max_s": 0.05, "connect_timeout_s": 2.0}


@pytest.fixture
def nodes() -> Iterator[Callable[..., FusionNode]]:
    started: list[FusionNode] = []

    def start(name: str, fusion: ScriptedFusion | None = None) -> FusionNode:
        node = FusionNode(name, fusion)
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()


def make_pusher(**options: Any) -> HttpPusher:
    return HttpPusher(HttpPusherOptions(**{**FAST, **options}))


async def until(condition: Callable[[], bool], what: str, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(scenario(), 30))


def follow_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [
        record.__dict__["fields"]
        for record in caplog.records
        if record.getMessage() == "following Fusion owner"
    ]


def test_every_batch_reaches_the_owner_and_the_owner_is_remembered(
    nodes: Callable[..., FusionNode], caplog: pytest.LogCaptureFixture
) -> None:
    entry, owner = nodes("a"), nodes("b")
    entry.redirect(owner)
    caplog.set_level(logging.INFO, logger="fustor_pusher_http")

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        link.put(*(event(f"/{n}") for n in range(5)))
        link.close()
        pusher = make_pusher(url=entry.url)
        await pusher.run(link)
        assert pusher.fusion_url == owner.url
        assert link.counters["owner_changes"] == 1 and link.counters["redirects_followed"] == 1

    run(scenario)
    assert owner.rows() == [f"/{n}" for n in range(5)]
    assert [seq for _, seq, _ in owner.fusion.applied] == [1, 2, 3, 4, 5]
    # only the first call went through the entry point; the session was opened on the owner
    assert entry.requests == [("POST", "/api/v1/ingest/sessions")] and entry.rows() == []
    assert owner.paths("POST")[0] == "/api/v1/ingest/sessions"
    assert owner.paths("DELETE") == ["/api/v1/ingest/sessions/s-1"]
    assert follow_logs(caplog) == [{"previous": entry.url, "owner": owner.url}]


def test_a_second_redirect_is_followed_when_the_owner_changes(
    nodes: Callable[..., FusionNode], caplog: pytest.LogCaptureFixture
) -> None:
    entry, first, second = nodes("a"), nodes("b"), nodes("c")
    entry.redirect(first)
    caplog.set_level(logging.INFO, logger="fustor_pusher_http")

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        pusher = make_pusher(url=entry.url)
        task = asyncio.create_task(pusher.run(link))
        link.put(event("/1"))
        await until(lambda: first.rows() == ["/1"], "the first batch on the first owner")
        first.redirect(second)  # a takeover: the first owner now names the second
        link.put(event("/2"), event("/3"))
        link.close()
        await task
        assert pusher.fusion_url == second.url
        assert link.counters["sessions_opened"] == 2  # the new owner did not know the session

    run(scenario)
    assert first.rows() == ["/1"]
    assert second.rows() == ["/2", "/3"]
    assert [seq for _, seq, _ in second.fusion.applied] == [1, 2]  # a new session, from seq 1
    assert len(entry.requests) == 1  # straight from the first owner to the second
    assert follow_logs(caplog) == [
        {"previous": entry.url, "owner": first.url},
        {"previous": first.url, "owner": second.url},
    ]


def test_an_owner_that_stops_answering_sends_the_pusher_back_to_its_entry_point(
    nodes: Callable[..., FusionNode],
) -> None:
    entry, first, second = nodes("a"), nodes("b"), nodes("c")
    entry.redirect(first)

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        pusher = make_pusher(url=entry.url)
        task = asyncio.create_task(pusher.run(link))
        link.put(event("/1"))
        await until(lambda: first.rows() == ["/1"], "the first batch")
        first.stop()  # the owner dies; the entry point now names the node that took over
        entry.redirect(second)
        link.put(event("/2"))
        link.close()
        await task
        assert pusher.fusion_url == second.url
        assert any("unreachable" in message for message in link.errors)

    run(scenario)
    assert second.rows() == ["/2"]
    assert len(entry.requests) >= 2  # asked again after the owner was lost


def test_the_second_entry_point_is_tried_when_the_first_is_down(nodes: Callable[..., FusionNode]) -> None:
    down, entry, owner = nodes("down"), nodes("a"), nodes("b")
    down.stop()
    entry.redirect(owner)

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        link.put(event("/1"), event("/2"))
        link.close()
        pusher = make_pusher(url=[down.url, entry.url])
        await pusher.run(link)
        assert pusher.fusion_url == owner.url

    run(scenario)
    assert owner.rows() == ["/1", "/2"]
    assert down.requests == []


def test_no_owner_sends_the_pusher_back_to_the_entry_points(nodes: Callable[..., FusionNode]) -> None:
    entry, first, second = nodes("a"), nodes("b"), nodes("c")
    entry.redirect(first)

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        pusher = make_pusher(url=entry.url)
        task = asyncio.create_task(pusher.run(link))
        link.put(event("/1"))
        await until(lambda: first.rows() == ["/1"], "the first batch")
        first.no_owner()  # lost its lease; the entry point learns the new owner
        entry.redirect(second)
        link.put(event("/2"))
        link.close()
        await task
        assert pusher.fusion_url == second.url

    run(scenario)
    assert second.rows() == ["/2"]
    assert ("POST", "/api/v1/ingest/sessions/s-1/events") in first.requests  # answered 503 no_owner


def test_a_redirect_loop_is_bounded_and_named_then_retried(nodes: Callable[..., FusionNode]) -> None:
    a, b = nodes("a"), nodes("b")
    a.redirect(b)
    b.redirect(a)

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        link.put(event("/1"))
        pusher = make_pusher(url=a.url, max_redirects=3)
        task = asyncio.create_task(pusher.run(link))
        await until(lambda: any("redirects" in message for message in link.errors), "the loop reported")
        assert len(a.requests) + len(b.requests) <= 4 * len([m for m in link.errors if "redirects" in m])
        b.owner()  # the nodes agree again
        link.close()
        await task
        loop_error = next(message for message in link.errors if "redirects" in message)
        assert "more than 3 redirects" in loop_error
        assert f"{a.url} -> {b.url} -> {a.url} -> {b.url} -> {a.url}" in loop_error

    run(scenario)
    assert b.rows() == ["/1"]


def test_every_kind_of_call_keeps_its_method_and_body_through_a_redirect(
    nodes: Callable[..., FusionNode],
) -> None:
    shared = ScriptedFusion()  # both nodes see the same sessions: only the routing is tested here
    a, b = nodes("a", shared), nodes("b", shared)

    def move(owner: FusionNode, other: FusionNode) -> None:
        owner.owner()
        other.redirect(owner)

    async def scenario() -> None:
        link = ListLink(batch_size=1, heartbeat_interval_s=3600)
        pusher = make_pusher(url=a.url)
        move(b, a)
        task = asyncio.create_task(pusher.run(link))
        await until(lambda: pusher.session is not None, "a session")
        move(a, b)
        end = signal("audit/end")
        link.put(signal("audit/start"))
        link.put(event("/x", source="audit", tenure=1))
        await until(lambda: len(shared.signals) == 1, "audit/start")
        await until(lambda: shared.rows() == ["/x"], "the batch")
        move(b, a)
        link.put(end)
        assert (await end.done)["signal"] == "audit/end"
        move(a, b)
        assert await pusher.sentinel_tasks(limit=7) == ["/a", "/b"]
        move(b, a)
        assert (await pusher.sentinel_feedback([{"path": "/a", "exists": False}]))["accepted"] == 1
        move(a, b)
        await pusher._heartbeat()
        link.close()
        await task

    run(scenario)
    assert [name for _, name, _ in shared.signals] == ["audit/start", "audit/end"]
    assert shared.signals[1][2] == {"after_seq": 1}
    bodies = {(method, path): body for method, path, body in shared.requests}
    assert bodies[("POST", "/api/v1/ingest/sessions/s-1/sentinel/feedback")] == {
        "updates": [{"path": "/a", "exists": False}]
    }
    # each call was redirected once, then answered by the other node with the same method/path
    for method, target in [
        ("POST", "/api/v1/ingest/sessions"),
        ("POST", "/api/v1/ingest/sessions/s-1/audit/start"),
        ("POST", "/api/v1/ingest/sessions/s-1/audit/end"),
        ("GET", "/api/v1/ingest/sessions/s-1/sentinel/tasks?limit=7"),
        ("POST", "/api/v1/ingest/sessions/s-1/sentinel/feedback"),
        ("POST", "/api/v1/ingest/sessions/s-1/heartbeat"),
    ]:
        seen = [node.name for node in (a, b) for request in node.requests if request == (method, target)]
        assert sorted(seen) == ["a", "b"], (method, target, seen)


class RegistryStandIn:
    """The Registry's agent bootstrap on a real loopback server; ``fusion_url`` is settable."""

    def __init__(self, fusion_url: str) -> None:
        self.fusion_url = fusion_url
        self.asked = 0
        registry = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                registry.asked += 1
                body = json.dumps({"datastore": "demo", "fusion_url": registry.fusion_url}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_with_a_registry_the_current_owner_is_asked_again_when_the_node_in_use_is_lost(
    nodes: Callable[..., FusionNode],
) -> None:
    first, second = nodes("b"), nodes("c")
    registry = RegistryStandIn(first.url)

    async def scenario() -> None:
        link = ListLink(batch_size=1)
        pusher = make_pusher(registry_url=registry.url)
        task = asyncio.create_task(pusher.run(link))
        link.put(event("/1"))
        await until(lambda: first.rows() == ["/1"], "the first batch")
        assert registry.asked == 1
        first.stop()
        registry.fusion_url = second.url  # the Registry learnt the new owner from the nodes
        link.put(event("/2"))
        link.close()
        await task
        assert pusher.fusion_url == second.url

    try:
        run(scenario)
    finally:
        registry.stop()
    assert second.rows() == ["/2"]
    assert registry.asked >= 2


@pytest.mark.parametrize(
    ("location", "path", "base"),
    [
        ("http://b:8102/api/v1/x?wait=1", "/api/v1/x?wait=1", "http://b:8102"),
        ("https://b.example/fusion/api/v1/x", "/api/v1/x", "https://b.example/fusion"),
        ("http://b:8102/elsewhere", "/api/v1/x", "http://b:8102"),
    ],
)
def test_the_owner_base_url_is_the_location_without_the_path(location: str, path: str, base: str) -> None:
    assert base_of(location, path) == base


@pytest.mark.parametrize(
    ("url", "entries"),
    [
        ("http://a:8102/", ["http://a:8102"]),
        (["http://a:8102", "http://b:8102/"], ["http://a:8102", "http://b:8102"]),
    ],
)
def test_url_takes_one_base_url_or_a_list(url: str | list[str], entries: list[str]) -> None:
    assert HttpPusherOptions(url=url, api_key="k").entry_urls == entries


@pytest.mark.parametrize("url", [[], [""], ""])
def test_an_empty_url_list_is_refused(url: str | list[str]) -> None:
    with pytest.raises(ValueError, match="url"):
        HttpPusherOptions(url=url, api_key="k")

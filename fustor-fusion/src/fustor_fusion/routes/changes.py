"""The change feed route (scope ``query``): a long poll, or the same stream as Server-Sent Events.

``GET /api/v1/views/{ds}/changes?since=CURSOR&limit=N&wait=S&path=PREFIX`` answers the changes
after ``since`` (see :mod:`fustor_fusion.feed.changelog`). With ``Accept: text/event-stream`` the
answer is an endless stream instead: each change an event whose ``id`` is the cursor after it
(so a reconnecting ``EventSource`` resumes with ``Last-Event-ID``), a comment after
``change_feed.keepalive_s`` without events, and named events ``start`` (the position a stream
without a cursor starts from) and ``reset`` (the cursor cannot be continued: re-read the tree).
A stream ends when the client goes away or Fusion stops; a slow reader only holds its own
stream (the server sends a page, then waits for the client to take it).

A page of a client that follows the feed holds a few changes and is a small answer, sent at
once. A page of more than :data:`LARGE_PAGE` changes (a client catching up) is a large answer:
it is encoded in the process's large-answer turn, like a tree or a list page, so that clients
catching up never hold small queries back, and an event stream hands it to the server in
pieces of :data:`~fustor_fusion.codec.SEND_CHUNK_BYTES`.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fustor_core.errors import InvalidInput
from fustor_core.event_model import path_problem
from fustor_fusion.api_models import ChangesPage
from fustor_fusion.codec import SEND_CHUNK_BYTES, JSONResponse
from fustor_fusion.endpoints import Endpoint, QueryParam, fusion
from fustor_fusion.feed.changelog import ChangeFeed, Page
from fustor_fusion.feed.cursor import Position
from fustor_fusion.feed.outcome import Entry
from fustor_fusion.paging import DEFAULT_LIMIT, MAX_LIMIT, limit_param
from fustor_fusion.routes.query import MIN_SEQ_PARAM, PREFIX, SCOPE, large_answer_turn
from fustor_fusion.routes.query import _datastore as query_datastore
from fustor_fusion.validation import WIRE_PATH_PATTERN

EVENT_STREAM = "text/event-stream"
MAX_WAIT_S = 60.0
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
LARGE_PAGE = 100
"""Pages with more changes than this are built in the large-answer turn (see the module)."""

Turn = Callable[[], AbstractAsyncContextManager[None]]


def wait_param(request: Request) -> float:
    """``wait``: seconds to wait for a first change, 0 to 60 (fractions allowed)."""
    raw = request.query_params.get("wait")
    if raw is None or raw == "":
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"wait: must be a number of seconds, got {raw[:50]!r}") from None
    if not math.isfinite(value) or not 0 <= value <= MAX_WAIT_S:
        raise InvalidInput(f"wait: must be between 0 and {MAX_WAIT_S:g} seconds, got {raw[:50]!r}")
    return value


def under_param(request: Request) -> str:
    """``path``: only changes at or below this path (default ``/``)."""
    path = request.query_params.get("path", "/")
    problem = path_problem(path)
    if problem is not None:
        raise InvalidInput(f"path {path[:200]!r}: {problem}", code="invalid_path")
    return path


def wants_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


async def changes(request: Request) -> Response:
    datastore = await query_datastore(request)
    limit = limit_param(request)
    wait = wait_param(request)
    under = under_param(request)
    since = request.query_params.get("since")
    feed = datastore.feed
    if wants_stream(request):
        since = request.headers.get("last-event-id") or since
        keepalive_s = fusion(request).config.change_feed.keepalive_s
        events = stream(feed, since, limit, under, keepalive_s, lambda: large_answer_turn(request))
        return StreamingResponse(events, media_type=EVENT_STREAM, headers=STREAM_HEADERS)
    page = await feed.page(since, limit, under)
    if since is not None:
        page = await wait_for_changes(feed, page, limit, under, wait)
    if len(page.changes) > LARGE_PAGE:
        async with large_answer_turn(request):
            return JSONResponse(page.as_json())
    return JSONResponse(page.as_json())


async def wait_for_changes(feed: ChangeFeed, page: Page, limit: int, under: str, wait: float) -> Page:
    """Wait up to ``wait`` seconds for a first change (below ``under``) when ``page`` has none."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while page.caught_up and not page.changes and not page.reset and not feed.closing:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await feed.wait(page.next.number, remaining)
        page = await feed.page(page.next, limit, under)
    return page


async def stream(
    feed: ChangeFeed, since: str | None, limit: int, under: str, keepalive_s: float, turn: Turn
) -> AsyncIterator[bytes]:
    """The feed as Server-Sent Events, until the client goes away or Fusion stops."""
    feed.streams += 1
    try:
        async for chunk in _events(feed, since, limit, under, keepalive_s, turn):
            yield chunk
    finally:
        feed.streams -= 1


async def _events(
    feed: ChangeFeed, since: str | None, limit: int, under: str, keepalive_s: float, turn: Turn
) -> AsyncIterator[bytes]:
    loop = asyncio.get_running_loop()
    page = await feed.page(since, limit, under)
    if page.reset or since is None:
        yield _named("reset" if page.reset else "start", page.next)
    told = page.next  # the client's Last-Event-ID from now on
    last_sent = loop.time()
    while not feed.closing:
        if len(page.changes) > LARGE_PAGE:
            async with turn():
                events = memoryview(_change_events(feed.view_id, page.changes))
            for start in range(0, len(events), SEND_CHUNK_BYTES):
                yield bytes(events[start : start + SEND_CHUNK_BYTES])
        elif page.changes:
            yield _change_events(feed.view_id, page.changes)
        if page.changes:
            last = page.changes[-1]
            told = Position(feed.view_id, last.record, last.number)
            last_sent = loop.time()
        if page.caught_up:
            await feed.wait(page.next.number, keepalive_s - (loop.time() - last_sent))
            if feed.closing:
                return
            if loop.time() - last_sent >= keepalive_s:
                # a comment keeps the connection alive; an id alone moves the client's
                # Last-Event-ID past changes its path filter left out (no event is fired)
                moved = page.next.number != told.number
                yield b": keep-alive\n" + (_id(page.next) if moved else b"") + b"\n"
                told = page.next
                last_sent = loop.time()
        page = await feed.page(page.next, limit, under)
        if page.reset:
            yield _named("reset", page.next)
            told = page.next
            last_sent = loop.time()


def _id(position: Position) -> bytes:
    return b"id: " + position.encode().encode() + b"\n"


def _change_events(view_id: str, entries: list[Entry]) -> bytes:
    return b"".join(_change_event(view_id, entry) for entry in entries)


def _change_event(view_id: str, entry: Entry) -> bytes:
    return (
        _id(Position(view_id, entry.record, entry.number))
        + b"data: "
        + orjson.dumps(entry.as_json())
        + b"\n\n"
    )


def _named(event: str, position: Position) -> bytes:
    data = orjson.dumps({"next": position.encode(), "reset": event == "reset"})
    return b"event: " + event.encode() + b"\n" + _id(position) + b"data: " + data + b"\n\n"


ENDPOINTS = [
    Endpoint(
        "GET",
        PREFIX + "/changes",
        changes,
        "What changed in the view after a cursor (long poll, or Accept: text/event-stream)",
        SCOPE,
        answer=ChangesPage,
        errors=(401, 403, 404, 422, 503, 504),
        stream_media_type=EVENT_STREAM,
        query=(
            QueryParam(
                "since",
                "the 'next' of an earlier answer; without it the answer is empty, with the current"
                " position (start there after reading the tree). A cursor that cannot be continued"
                " answers reset: true",
            ),
            QueryParam(
                "limit",
                "changes per answer at most",
                "integer",
                default=DEFAULT_LIMIT,
                minimum=1,
                maximum=MAX_LIMIT,
            ),
            QueryParam(
                "wait",
                "seconds to wait for a first change when there is none yet (long poll)",
                "number",
                default=0,
                minimum=0,
                maximum=int(MAX_WAIT_S),
            ),
            QueryParam(
                "path",
                "only changes at or below this path (and deletions of a directory above it)",
                default="/",
                max_length=4096,
                pattern=WIRE_PATH_PATTERN,
            ),
            MIN_SEQ_PARAM,
        ),
    ),
]

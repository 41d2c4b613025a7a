"""Query routes (scope ``query``): the live tree and the lists arbitration keeps.

Every list a rule publishes (``view.register_list``) is served by ``/lists/{name}``, a third
party's as well as the default rules'; ``/suspects`` and ``/blind-spots`` are the same lists
under the names earlier versions gave them.

Reads call the synchronous engine inline; since writes hold the event loop for the whole of a
batch, a read never sees half of one. Every answer is bounded (``limit`` + cursor paging).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import InvalidInput
from fustor_core.event_model import path_problem
from fustor_core.pathlist import order_key
from fustor_fusion.api_models import BlindSpots, ListedPath, ListSummary, SessionInfo, Stats, TreeNode
from fustor_fusion.auth import authenticate, require
from fustor_fusion.codec import JSONResponse
from fustor_fusion.consistency import MIN_SEQ, mark_view, wait_for_min_seq
from fustor_fusion.datastore import Datastore
from fustor_fusion.endpoints import Endpoint, QueryParam, fusion
from fustor_fusion.paging import (
    CURSOR_PATTERN,
    DEFAULT_LIMIT,
    MAX_LIMIT,
    NEXT_CURSOR_HEADER,
    bool_param,
    cursor_param,
    encode_cursor,
    float_param,
    int_param,
    limit_param,
)
from fustor_fusion.search_filter import FLAGS_PATTERN, MAX_SIZE, filtered_page, node_filter
from fustor_fusion.sessions import SessionTable
from fustor_fusion.validation import WIRE_PATH_PATTERN

PREFIX = "/api/v1/views/{ds}"
SCOPE = "query"
MAX_DEPTH = 100
"""Most levels of children one tree answer nests (``depth=-1`` means this many; more is 422).

A directory chain can be 2048 levels deep (a 4096-character path), but JSON nested that deep is
refused by common parsers — orjson, which encodes Fusion's answers, stops at 255 nested
containers (about 126 levels of ``children``) — so an answer stops at 100 levels: a directory
at the last level lists no ``children`` (its ``files``/``dirs`` counts say what is below it) and
a client continues with a tree query at its path. Rendering is iterative at any depth."""
DEFAULT_MAX_NODES = 10_000
DEFAULT_FRESH_TIMEOUT_S = 10.0
MAX_FRESH_TIMEOUT_S = 60.0
MAX_PATTERN = 1024
WAIT_FLAGS = ("complete",)
"""What ``wait`` accepts: a node flag the tree answer waits for (given by a merge rule)."""
DEFAULT_WAIT_S = 30.0
MAX_WAIT_S = 60.0
"""Longest ``timeout`` of a waiting tree query (as the change feed's long poll): a waiting
request also holds up Fusion's shutdown, which lets open requests finish."""
WAIT_POLL_S = 0.05
"""How often a waiting query tests its flag (one O(1) membership test): completion is decided
by batches and ticks, so this adds at most 50 ms to the answer."""


async def _datastore(request: Request) -> Datastore:
    """Authenticate (401), check the URL names the key's datastore and the scope (403), then
    find it (404 only for the key's own datastore when this Fusion does not serve it), and wait
    for ``?min_seq`` (504 when the view does not get there in time).

    The 403 comes first so that a key learns nothing about other datastores: an existing and a
    made-up name are refused alike.
    """
    service = fusion(request)
    grant = await authenticate(request, service.key_checker)
    require(grant, SCOPE, request.path_params["ds"])
    datastore = service.datastore(grant.datastore)
    await wait_for_min_seq(request, datastore.seq_watch, service.config.min_seq_wait_s, datastore.name)
    mark_view(request, datastore, durable=False)
    return datastore


@contextlib.asynccontextmanager
async def large_answer_turn(request: Request) -> AsyncIterator[None]:
    """Wait for this process's turn to build a possibly large answer (render and encode).

    Large answers are built one at a time, first come first served, and each turn starts with a
    pass through the event loop: building an answer never yields, so without that pass every
    large request that arrived together would be built back to back before the loop read the
    next small request. Small requests (stats, ingest, health) never wait for a turn, so their
    latency does not grow with how many clients fetch large pages. Each answer is still built
    in one go, between two batches.
    """
    async with fusion(request).large_answers:
        await asyncio.sleep(0)
        yield


def _paged(items: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """Cut a ``limit + 1`` answer to ``limit`` and say where the next page starts."""
    if len(items) <= limit:
        return items, None
    items = items[:limit]
    return items, encode_cursor(items[-1]["path"])


def _answer(body: Any, next_cursor: str | None) -> Response:
    headers = {NEXT_CURSOR_HEADER: next_cursor} if next_cursor is not None else None
    return JSONResponse(body, headers=headers)


async def tree(request: Request) -> Response:
    datastore = await _datastore(request)
    depth = int_param(request, "depth", 1, low=-1, high=MAX_DEPTH)
    limit = limit_param(request)
    after = cursor_param(request)
    max_nodes = int_param(request, "max_nodes", DEFAULT_MAX_NODES, low=1, high=10 * DEFAULT_MAX_NODES)
    path = request.query_params.get("path", "/")
    proof = None
    if bool_param(request, "fresh"):
        datastore.require_owner("a fresh=true query")  # the leader agent talks to the owner
        # the leader re-lists the path now; the answer is built once that listing is applied
        timeout_s = float_param(
            request, "timeout", DEFAULT_FRESH_TIMEOUT_S, low=0.0, high=MAX_FRESH_TIMEOUT_S
        )
        proof = await datastore.fresh.relist(path, timeout_s)
    wait = request.query_params.get("wait")
    if wait is not None:
        await _wait_for_flag(datastore, path, wait, _seconds_param(request, "timeout", DEFAULT_WAIT_S))
    async with large_answer_turn(request):
        node = datastore.view.tree(
            path,
            depth=MAX_DEPTH if depth == -1 else depth,
            limit=limit,
            after=after,
            max_nodes=max_nodes,
        )
        last = node.get("next_cursor")
        next_cursor = encode_cursor(last) if last is not None else None
        if next_cursor is not None:
            node["next_cursor"] = next_cursor
        if proof is not None:
            node["fresh"] = proof
        return _answer(node, next_cursor)


def _seconds_param(request: Request, name: str, default: float) -> float:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: must be a number of seconds, got {raw[:50]!r}") from None
    if not 0 <= value <= MAX_WAIT_S:  # also refuses nan
        raise InvalidInput(f"{name}: must be between 0 and {MAX_WAIT_S:g} seconds, got {raw[:50]!r}")
    return value


async def _wait_for_flag(datastore: Datastore, path: str, flag_name: str, timeout: float) -> None:
    """Return once the node at ``path`` carries ``flag_name`` (``wait=complete``), or at the
    timeout; the answer then shows the node as it stands, the flag false (or 404 if the path
    never appeared)."""
    if flag_name not in WAIT_FLAGS:
        raise InvalidInput(f"wait: must be one of {', '.join(WAIT_FLAGS)}, got {flag_name[:50]!r}")
    problem = path_problem(path)
    if problem is not None:
        raise InvalidInput(f"path {path!r}: {problem}", code="invalid_path")
    flagged = datastore.view.flag(flag_name)
    if flagged is None:
        raise InvalidInput(
            f"wait={flag_name}: no merge rule gives the flag {flag_name!r}"
            " (is fustor-merge-completion installed and enabled?)"
        )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not flagged(path):
        left = deadline - loop.time()
        if left <= 0:
            return
        await asyncio.sleep(min(WAIT_POLL_S, left))


async def stats(request: Request) -> Response:
    datastore = await _datastore(request)
    return JSONResponse(datastore.stats())


async def suspects(request: Request) -> Response:
    datastore = await _datastore(request)
    limit = limit_param(request)
    after = cursor_param(request)
    async with large_answer_turn(request):
        items, next_cursor = _paged(datastore.view.suspects(limit=limit + 1, after=after), limit)
        return _answer(items, next_cursor)


async def blind_spots(request: Request) -> Response:
    datastore = await _datastore(request)
    limit = limit_param(request)
    after = cursor_param(request)
    async with large_answer_turn(request):
        return _blind_spot_page(datastore, limit, after)


def _blind_spot_page(datastore: Datastore, limit: int, after: str | None) -> Response:
    lists = datastore.view.blind_spots(limit=limit + 1, after=after)
    additions, deletions = lists["additions"], lists["deletions"]
    # Both lists are paged by one cursor, in list order (directory, then name): stop the page at
    # the earlier of the two cut points so that the next page (everything after the cursor)
    # neither repeats nor skips an entry.
    cuts = [entries[limit - 1]["path"] for entries in (additions, deletions) if len(entries) > limit]
    next_cursor = None
    if cuts:
        cut = min(cuts, key=order_key)
        last = order_key(cut)
        additions = [entry for entry in additions[:limit] if order_key(entry["path"]) <= last]
        deletions = [entry for entry in deletions[:limit] if order_key(entry["path"]) <= last]
        next_cursor = encode_cursor(cut)
    return _answer({"additions": additions, "deletions": deletions, "next_cursor": next_cursor}, next_cursor)


async def lists(request: Request) -> Response:
    datastore = await _datastore(request)
    return JSONResponse(datastore.view.lists())


async def list_entries(request: Request) -> Response:
    datastore = await _datastore(request)
    limit = limit_param(request)
    after = cursor_param(request)
    async with large_answer_turn(request):
        page = datastore.view.list_page(request.path_params["name"], limit=limit + 1, after=after)
        items, next_cursor = _paged(page, limit)
        return _answer(items, next_cursor)


async def search(request: Request) -> Response:
    datastore = await _datastore(request)
    pattern = request.query_params.get("pattern", "*")
    if not pattern:
        raise InvalidInput("pattern: a glob pattern must not be empty, e.g. pattern=*.dat")
    if len(pattern) > MAX_PATTERN:
        raise InvalidInput(f"pattern: longer than {MAX_PATTERN} characters")
    limit = limit_param(request)
    after = cursor_param(request)
    view = datastore.view
    where = node_filter(request, view.flag_names())
    under = request.query_params.get("path", "/")
    async with large_answer_turn(request):

        def one_search(glob: str, count: int, start: str | None) -> list[dict[str, Any]]:
            return view.search(glob, path=under, limit=count, after=start)

        items, last = filtered_page(one_search, pattern, where, limit, after)
        return _answer(items, encode_cursor(last) if last is not None else None)


async def sessions(request: Request) -> Response:
    datastore = await _datastore(request)
    table = datastore.sessions
    limit = limit_param(request)
    after = cursor_param(request)
    async with large_answer_turn(request):
        return _session_page(table, limit, after)


def _session_page(table: SessionTable, limit: int, after: str | None) -> Response:
    page = table.page(after=after, limit=limit + 1)
    next_cursor = encode_cursor(page[limit - 1].session_id) if len(page) > limit else None
    answer = [
        {
            "session_id": session.session_id,
            "agent_id": session.agent_id,
            "source_uri": session.source_uri,
            "role": str(session.role),
            "last_heartbeat_age_s": round(table.age(session), 3),
        }
        for session in page[:limit]
    ]
    return _answer(answer, next_cursor)


_LIMIT = QueryParam("limit", "page size", "integer", default=DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
_CURSOR = QueryParam("cursor", "opaque cursor from the previous page (X-Next-Cursor)", pattern=CURSOR_PATTERN)
_PATH = QueryParam(
    "path", "absolute path inside the datastore", default="/", max_length=4096, pattern=WIRE_PATH_PATTERN
)
MIN_SEQ_PARAM = QueryParam(
    MIN_SEQ,
    "answer only once this node's view reflects journal record min_seq (the X-Fustor-Seq of an"
    " earlier answer, e.g. of an ingest through the owner); waits at most cluster.min_seq_wait_s"
    " (default 10 s), then 504 min_seq_timeout",
    "integer",
    minimum=0,
)
_ERRORS = (401, 403, 404, 422, 504)

ENDPOINTS = [
    Endpoint(
        "GET",
        PREFIX + "/tree",
        tree,
        "A node and its children to the given depth (top level paged)",
        SCOPE,
        answer=TreeNode,
        query=(
            _PATH,
            QueryParam(
                "depth",
                f"levels of children (at most {MAX_DEPTH}); -1: {MAX_DEPTH} levels, as deep as an"
                " answer nests (continue deeper with a tree query at a last-level directory)",
                "integer",
                default=1,
                minimum=-1,
                maximum=MAX_DEPTH,
            ),
            _LIMIT,
            _CURSOR,
            QueryParam(
                "max_nodes",
                "nodes in the answer before nested listings stop",
                "integer",
                default=DEFAULT_MAX_NODES,
                minimum=1,
                maximum=10 * DEFAULT_MAX_NODES,
            ),
            QueryParam(
                "wait",
                "complete: answer as soon as the node at path is complete (merge-completion rule),"
                " or at the timeout with the node as it stands (complete: false)",
                pattern="^complete$",
            ),
            QueryParam(
                "fresh",
                "true: the leader agent re-lists the path now (every directory listed, every file"
                " stat'ed) and the answer waits until that listing is applied (its proof in"
                " 'fresh'); 503 without a leader that can, 429 when 1,024 paths already wait, 504 after"
                " 'timeout'",
                "boolean",
                default=False,
            ),
            QueryParam(
                "timeout",
                f"seconds a wait lasts at most (default {DEFAULT_WAIT_S:g}; with fresh=true the"
                f" leader's listing, default {DEFAULT_FRESH_TIMEOUT_S:g}; at most {MAX_WAIT_S:g})",
                "number",
                default=DEFAULT_WAIT_S,
                minimum=0,
                maximum=int(MAX_WAIT_S),
            ),
            MIN_SEQ_PARAM,
        ),
        errors=(307, *_ERRORS, 429),
    ),
    Endpoint(
        "GET",
        PREFIX + "/stats",
        stats,
        "Whole-view counts, list sizes, leader",
        SCOPE,
        answer=Stats,
        errors=_ERRORS,
        query=(MIN_SEQ_PARAM,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/suspects",
        suspects,
        "Files whose content may still be changing",
        SCOPE,
        answer=ListedPath,
        answer_is_list=True,
        errors=_ERRORS,
        query=(_LIMIT, _CURSOR, MIN_SEQ_PARAM),
    ),
    Endpoint(
        "GET",
        PREFIX + "/blind-spots",
        blind_spots,
        "Changes made from hosts without an agent",
        SCOPE,
        answer=BlindSpots,
        errors=_ERRORS,
        query=(_LIMIT, _CURSOR, MIN_SEQ_PARAM),
    ),
    Endpoint(
        "GET",
        PREFIX + "/lists",
        lists,
        "Every list the rules keep (suspects, tombstones, blind spots, a third party's...), with sizes",
        SCOPE,
        answer=ListSummary,
        answer_is_list=True,
        errors=_ERRORS,
        query=(MIN_SEQ_PARAM,),
    ),
    Endpoint(
        "GET",
        PREFIX + "/lists/{name}",
        list_entries,
        "The entries of one list in list order (by directory, then name), paged",
        SCOPE,
        answer=ListedPath,
        answer_is_list=True,
        errors=_ERRORS,
        query=(_LIMIT, _CURSOR, MIN_SEQ_PARAM),
    ),
    Endpoint(
        "GET",
        PREFIX + "/search",
        search,
        "Nodes below a path matching a glob and filters (find's tests), in path order, paged",
        SCOPE,
        answer=TreeNode,
        answer_is_list=True,
        errors=_ERRORS,
        query=(
            QueryParam(
                "pattern",
                "glob on names (or on paths when it has a '/'), e.g. *.dat",
                default="*",
                min_length=1,
                max_length=MAX_PATTERN,
            ),
            _PATH,
            QueryParam(
                "path_pattern",
                "glob on the whole path ('*' matches '/' too), like find -path",
                min_length=1,
                max_length=MAX_PATTERN,
            ),
            QueryParam("type", "f: files only, d: directories only", enum=("f", "d")),
            QueryParam("min_size", "size at least this many bytes", "integer", minimum=0, maximum=MAX_SIZE),
            QueryParam("max_size", "size at most this many bytes", "integer", minimum=0, maximum=MAX_SIZE),
            QueryParam("mtime_from", "mtime at or after this time (seconds since the epoch)", "number"),
            QueryParam("mtime_before", "mtime before this time (seconds since the epoch)", "number"),
            QueryParam(
                "flags",
                "comma-separated node flags that must be true, or false when prefixed by '!'"
                " (e.g. integrity_suspect,!agent_missing); an unknown flag is 422",
                max_length=64 * 33,
                pattern=FLAGS_PATTERN,
            ),
            _LIMIT,
            _CURSOR,
            MIN_SEQ_PARAM,
        ),
        description=(
            "Filtered searches examine at most 100,000 nodes per page: a page may then hold fewer"
            " than limit entries, even none, and still carry X-Next-Cursor. Follow the cursor"
            " until an answer has none."
        ),
    ),
    Endpoint(
        "GET",
        PREFIX + "/sessions",
        sessions,
        "Live ingest sessions and their roles, in session id order (paged)",
        SCOPE,
        answer=SessionInfo,
        answer_is_list=True,
        errors=_ERRORS,
        query=(_LIMIT, _CURSOR, MIN_SEQ_PARAM),
    ),
]

"""Read-your-writes across nodes: the sequence number every answer reflects, and ``?min_seq``.

Every input of a view is one journal record with a sequence number, so a number says exactly
how far a view got. Each answer of a view's query and ingest routes carries it in
``X-Fustor-Seq``: a query answer the newest record the view reflects, an ingest answer the
newest *durable* record (which covers the batch just answered). A client that wrote through
the owner and reads through a replica passes that number as ``?min_seq=S``: the query waits
until the node has applied record S (at most ``cluster.min_seq_wait_s``), then answers, or
gives up with 504 ``min_seq_timeout``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response

from fustor_core.errors import InvalidInput, TimedOut

SEQ_HEADER = "X-Fustor-Seq"
MIN_SEQ = "min_seq"
MAX_SEQ = 2**63 - 1


class SeqWatch:
    """Wakes the queries waiting for a view to reach a sequence number (no polling)."""

    def __init__(self, current: Callable[[], int]) -> None:
        self._current = current
        self._moved: asyncio.Event | None = None

    def moved(self) -> None:
        """The view applied more records: waiting queries look again."""
        moved, self._moved = self._moved, None
        if moved is not None:
            moved.set()

    async def reached(self, seq: int, timeout: float) -> bool:
        """Wait until the view reflects record ``seq``; False if it has not after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._current() < seq:
            left = deadline - loop.time()
            if left <= 0:
                return False
            if self._moved is None:
                self._moved = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._moved.wait(), left)
        return True


def min_seq_param(request: Request) -> int | None:
    """``min_seq``: a sequence number (a non-negative integer), or None when absent."""
    raw = request.query_params.get(MIN_SEQ)
    if raw is None:
        return None
    if not raw.isdigit() or len(raw) > 19 or int(raw) > MAX_SEQ:
        raise InvalidInput(f"{MIN_SEQ}: must be a sequence number (an integer >= 0), got {raw[:50]!r}")
    return int(raw)


async def wait_for_min_seq(request: Request, watch: SeqWatch, timeout: float, name: str) -> None:
    """Honour ``?min_seq`` (504 ``min_seq_timeout`` when the view does not get there in time)."""
    wanted = min_seq_param(request)
    if wanted is None:
        return
    if not await watch.reached(wanted, timeout):
        raise TimedOut(
            f"view {name!r} has not reached record {wanted} within {timeout:g} s on this node;"
            " retry, or ask the owner",
            code="min_seq_timeout",
        )


class _Reflects(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def applied_seq(self) -> int: ...


class _HasDurability(Protocol):
    @property
    def durability(self) -> _Reflects: ...


def mark_view(request: Request, datastore: _HasDurability, *, durable: bool) -> None:
    """Remember which view the request reached, for its ``X-Fustor-Seq`` (``durable``: the
    newest durable record, as ingest answers; else the newest the view reflects)."""
    request.state.fustor_view = datastore
    request.state.fustor_durable = durable


def seq_of(request: Request) -> int | None:
    """The ``X-Fustor-Seq`` of the answer to ``request`` (None: it reached no view)."""
    datastore = getattr(request.state, "fustor_view", None)
    if datastore is None:
        return None
    durability = datastore.durability
    return int(durability.seq if request.state.fustor_durable else durability.applied_seq)


SeqOf = Callable[[Request], "int | None"]


def with_seq_header(
    handler: Callable[[Request], Awaitable[Response]], seq: SeqOf = seq_of
) -> Callable[[Request], Awaitable[Response]]:
    """``handler``, its answers stamped with ``X-Fustor-Seq`` (``seq_of`` reads the number once
    the answer is built; None: the route did not reach a view, no header)."""

    async def stamped(request: Request) -> Response:
        response = await handler(request)
        number = seq(request)
        if number is not None:
            response.headers[SEQ_HEADER] = str(number)
        return response

    stamped.__name__ = getattr(handler, "__name__", "handler")
    return stamped

"""Run a blocking iterator in a worker thread and feed its items into the event loop.

Sources are blocking (file-system calls); the bus and the pusher live in the event loop. The
worker hands each item to an ``async consume`` in the loop and waits for it to finish, so when
``consume`` waits (a full bus), the worker — and the source behind it — waits too: backpressure
reaches the file system walk. Cancelling the pump sets the ``stop`` event the iterator was given
and cancels the pending ``consume``; the worker then ends at its next check. To stop
*gracefully* instead, set the ``stop`` event passed in: the iterator sees it, yields what it
still holds (realtime drains its queue) and ends, and every item it yields is still consumed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

STOP_GRACE_S = 5.0
"""How long a cancelled pump waits for its worker to notice ``stop`` (a slow NFS call may hold it)."""


async def pump(
    produce: Callable[[threading.Event], Iterable[T]],
    consume: Callable[[T], Awaitable[None]],
    *,
    name: str = "fustor-pump",
    stop: threading.Event | None = None,
) -> None:
    """Iterate ``produce(stop)`` in a thread, awaiting ``consume(item)`` in this loop for each item.

    Exceptions of the iterator or of ``consume`` are raised here.
    """
    loop = asyncio.get_running_loop()
    stop = stop if stop is not None else threading.Event()
    aborted = threading.Event()
    finished: asyncio.Future[None] = loop.create_future()
    in_flight: list[concurrent.futures.Future[None]] = []

    def settle(error: BaseException | None) -> None:
        if finished.done():
            return
        if aborted.is_set():  # nobody awaits the outcome any more
            finished.cancel()
            return
        if error is None:
            finished.set_result(None)
        else:
            finished.set_exception(error)

    def worker() -> None:
        error: BaseException | None = None
        try:
            iterator = iter(produce(stop))
            try:
                for item in iterator:  # the iterator itself ends once ``stop`` is set
                    if aborted.is_set():
                        break
                    future = asyncio.run_coroutine_threadsafe(_call(consume, item), loop)
                    in_flight[:] = [future]
                    try:
                        future.result()
                    except concurrent.futures.CancelledError:
                        break
                    finally:
                        in_flight.clear()
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the awaiting coroutine
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is gone (interpreter shutdown)
            loop.call_soon_threadsafe(settle, error)

    thread = threading.Thread(target=worker, name=name, daemon=True)
    thread.start()
    try:
        await asyncio.shield(finished)
    except asyncio.CancelledError:
        aborted.set()
        stop.set()
        for future in list(in_flight):
            future.cancel()
        with contextlib.suppress(Exception):  # stopping: how it ended no longer matters
            await asyncio.wait_for(asyncio.shield(finished), STOP_GRACE_S)
        raise


async def _call(consume: Callable[[T], Awaitable[None]], item: T) -> None:
    await consume(item)

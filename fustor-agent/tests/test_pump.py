"""The pump: a blocking iterator in a thread, backpressure from the loop, clean cancellation."""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import Iterator

import pytest

from fustor_agent.pump import pump


def test_the_worker_waits_while_consume_is_busy() -> None:
    produced: list[float] = []
    consumed: list[int] = []

    def produce(stop: threading.Event) -> Iterator[int]:
        for n in range(5):
            produced.append(time.monotonic())
            yield n

    async def consume(n: int) -> None:
        await asyncio.sleep(0.02)
        consumed.append(n)

    asyncio.run(pump(produce, consume))
    assert consumed == [0, 1, 2, 3, 4]
    gaps = [b - a for a, b in itertools.pairwise(produced)]
    assert min(gaps) >= 0.015  # each item was produced only after the previous was consumed


def test_cancelling_sets_stop_and_ends_the_worker() -> None:
    stopped = threading.Event()
    given: list[threading.Event] = []

    def produce(stop: threading.Event) -> Iterator[int]:
        given.append(stop)
        try:
            n = 0
            while not stop.wait(0.005):
                n += 1
                yield n
        finally:  # the worker closes the iterator if it was waiting on a cancelled consume
            stopped.set()

    async def consume(n: int) -> None:
        await asyncio.sleep(0)

    async def scenario() -> None:
        task = asyncio.create_task(pump(produce, consume))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert stopped.wait(1) and given[0].is_set()


def test_errors_of_the_iterator_reach_the_caller() -> None:
    def produce(stop: threading.Event) -> Iterator[int]:
        yield 1
        raise OSError("disk on fire")

    async def consume(n: int) -> None:
        return None

    with pytest.raises(OSError, match="disk on fire"):
        asyncio.run(pump(produce, consume))

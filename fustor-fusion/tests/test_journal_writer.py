"""The journal writer: records become durable in submit order, inline while appends are cheap, by
its thread when they are slow or failing — and a waiting request is released only after that.

The journal is the real sqlite one; "slow" and "failing" are injected around its ``append``
(a disk that stalls or fills cannot be produced on demand).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from fustor_core.journal import NewRecord
from fustor_fusion.journaling import writer as writer_module
from fustor_fusion.journaling.inputs import unpack
from fustor_fusion.journaling.writer import INLINE_UP_TO_S, JournalWriter
from fustor_journal_sqlite import SqliteJournal


class Faulty(SqliteJournal):
    """A sqlite journal whose appends take ``delay`` seconds, and fail ``failures`` times first."""

    delay = 0.0
    failures = 0

    def append(self, records: list[NewRecord]) -> int:  # type: ignore[override]
        time.sleep(self.delay)
        if self.failures:
            self.failures -= 1
            raise OSError(28, "No space left on device")
        return super().append(records)


def record(n: int) -> NewRecord:
    return NewRecord(time=float(n), kind="event", payload=f"payload {n}".encode() * (1 + n % 300))


def stored(journal: SqliteJournal) -> list[bytes]:
    return [unpack(r.payload) for r in journal.read(0, 10_000)]


def test_cheap_appends_are_made_inline_and_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # "cheap" by a bar a loaded CI machine's SQLite commits stay under: what is tested is that an
    # append under the bar is made inline, not how fast this machine is
    monkeypatch.setattr(writer_module, "INLINE_UP_TO_S", 0.05)
    journal = Faulty(tmp_path / "v")
    journal.open()

    async def scenario() -> JournalWriter:
        writer = JournalWriter(journal, last_seq=0, name="v")
        for n in range(50):
            writer.submit(record(n))
            pending = writer.durable()  # None: appended inline, before durable() returned
            if pending is not None:  # a hiccup of this busy machine made one append look slow
                await pending
        await writer.aclose()
        return writer

    writer = asyncio.run(scenario())
    assert writer.appends == 50 and writer.last_seq == 50
    assert writer.inline_appends >= 40, "cheap appends are made in the event loop"
    assert stored(journal) == [record(n).payload for n in range(50)]
    journal.close()


def test_slow_appends_go_to_the_thread_and_group(tmp_path: Path) -> None:
    journal = Faulty(tmp_path / "v")
    journal.delay = 4 * INLINE_UP_TO_S
    journal.open()

    async def scenario() -> tuple[JournalWriter, list[int]]:
        writer = JournalWriter(journal, last_seq=0, name="v")
        writer.submit(record(0))
        assert writer.durable() is None  # the first append is inline: nothing measured yet
        waits = []
        for n in range(1, 40):
            writer.submit(record(n))
            waits.append(writer.durable())
        assert all(w is not None for w in waits), "slow appends leave the event loop free"
        seqs = [await w for w in waits if w is not None]
        await writer.aclose()
        return writer, seqs

    writer, seqs = asyncio.run(scenario())
    assert seqs == list(range(2, 41)), "each request learns the sequence number of its own record"
    assert writer.inline_appends == 1 and writer.appends < 40, "records queued meanwhile share appends"
    assert stored(journal) == [record(n).payload for n in range(40)]
    journal.close()


def test_a_failing_append_is_retried_in_order_and_nobody_is_released_early(tmp_path: Path) -> None:
    journal = Faulty(tmp_path / "v")
    journal.open()

    async def scenario() -> JournalWriter:
        writer = JournalWriter(journal, last_seq=0, name="v")
        writer.submit(record(0))
        assert writer.durable() is None
        journal.failures = 3
        writer.submit(record(1))
        first = writer.durable()
        assert first is not None, "an inline failure hands the record to the thread"
        writer.submit(record(2))
        second = writer.durable()
        assert second is not None
        await asyncio.sleep(0.05)
        assert not first.done() and writer.failure is not None  # type: ignore[attr-defined]
        assert await second == 3 and await first == 2
        assert writer.failure is None
        await writer.aclose()
        return writer

    asyncio.run(scenario())
    assert stored(journal) == [record(n).payload for n in range(3)]
    journal.close()

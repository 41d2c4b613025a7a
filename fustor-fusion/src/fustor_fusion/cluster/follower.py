"""A replica following the journal: new records are applied within milliseconds of the commit.

A thread of its own blocks in :meth:`~fustor_core.cluster.SharedJournal.wait_for_records` (the
owner's commit wakes it); the event loop then reads the new records and replays each on the
view under the datastore's write lock, one record per pass — queries read the view between two
records, never in the middle of one, just as they read between two batches on the owner. Each
applied record moves the view's sequence number (``X-Fustor-Seq``, ``?min_seq`` waiters) and
publishes the changes it carries on the change feed, so ``/changes`` works on a replica.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from fustor_core.cluster import SharedJournal
from fustor_core.journal import JournalRecord
from fustor_core.logs import log_event
from fustor_fusion.journaling.replay import replay_record

if TYPE_CHECKING:
    from fustor_fusion.datastore import Datastore

logger = logging.getLogger(__name__)

WAIT_S = 1.0
"""Longest single wait for new records (the loop then looks again, so stopping is prompt)."""
READ_BATCH = 500
"""Records read per call."""
YIELD_EVERY_S = 0.005
"""Applying yields to the event loop at least this often, so queries interleave."""
RETRY_S = 1.0
EMPTY_READ_PAUSE_S = 0.05
"""Pause after the journal announced records a read did not find yet."""


class Follower:
    """Applies the journal's new records to a replica's view until stopped."""

    def __init__(self, datastore: Datastore, journal: SharedJournal) -> None:
        self.datastore = datastore
        self.journal = journal
        self._waits = ThreadPoolExecutor(1, thread_name_prefix=f"follow-{datastore.name}")
        """Its own thread: a wait of up to a second must not hold the loop's shared pool..."""
        self._reads = ThreadPoolExecutor(1, thread_name_prefix=f"read-{datastore.name}")
        """...nor a takeover's reads wait behind it."""
        self.applied_records = 0
        self.failure: str | None = None

    async def run(self) -> None:
        """Follow until cancelled."""
        loop = asyncio.get_running_loop()
        datastore = self.datastore
        state = datastore.cluster_state
        assert state is not None
        while True:
            applied = datastore.durability.seq
            try:
                newest = await loop.run_in_executor(
                    self._waits, self.journal.wait_for_records, applied, WAIT_S
                )
            except Exception as exc:
                self._failed(exc)
                await asyncio.sleep(RETRY_S)
                continue
            state.journal_has(newest, applied)
            if newest > applied:
                try:
                    await self.catch_up(newest=newest)
                except Exception as exc:
                    self._failed(exc)
                    await asyncio.sleep(RETRY_S)
                    continue
            if self.failure is not None:
                log_event(
                    logger, logging.WARNING, "following the journal works again", datastore=datastore.name
                )
                self.failure = None

    def _failed(self, exc: Exception) -> None:
        if self.failure is None:
            log_event(
                logger,
                logging.ERROR,
                "following the journal failed; retrying",
                datastore=self.datastore.name,
                error=repr(exc),
            )
        self.failure = repr(exc)

    async def catch_up(self, *, locked: bool = False, newest: int = 0) -> int:
        """Apply every record the journal holds after the view's; returns how many. ``locked``:
        the caller holds the write lock already (a takeover). ``newest``: the journal is known to
        hold records up to this one."""
        loop = asyncio.get_running_loop()
        datastore = self.datastore
        total = 0
        while True:
            applied = datastore.durability.seq
            records = await loop.run_in_executor(self._reads, self.journal.read, applied, READ_BATCH)
            if not records and not total and newest > applied:
                snapshots = await loop.run_in_executor(self._reads, self.journal.snapshots)
                if snapshots and snapshots[0].seq > applied:
                    # every record after ours was trimmed already (behind a newer snapshot)
                    await self._rebuild(locked=locked)
                else:  # not visible yet: look again shortly rather than spin
                    await asyncio.sleep(EMPTY_READ_PAUSE_S)
                return total
            if not records:
                return total
            if locked:
                await self._apply(records)
            else:
                async with datastore.write_lock:
                    if datastore.durability.writer is not None:  # became the owner meanwhile
                        return total
                    await self._apply(records)
            total += len(records)

    async def _apply(self, records: list[JournalRecord]) -> None:
        datastore = self.datastore
        state = datastore.cluster_state
        durability = datastore.durability
        started = time.perf_counter()
        for record in records:
            if record.seq <= durability.seq:
                continue
            if record.seq != durability.seq + 1:
                # trimmed while this node was behind (or skipped as damaged): replaying past the
                # gap would leave this copy different from the owner's; start again from the
                # newest snapshot, as a node that starts does
                log_event(
                    logger,
                    logging.WARNING,
                    "records missing from the journal; rebuilding the view from the newest snapshot",
                    datastore=datastore.name,
                    first=durability.seq + 1,
                    last=record.seq - 1,
                )
                await self._rebuild(locked=True)
                return
            try:
                weight = replay_record(datastore.view, record)
            except Exception as exc:  # as at load: one bad record must not stop the view
                weight = 1
                log_event(
                    logger,
                    logging.ERROR,
                    "record could not be replayed; skipped",
                    datastore=datastore.name,
                    seq=record.seq,
                    kind=record.kind,
                    error=repr(exc),
                )
            durability.applied(record, weight)
            datastore.feed.replayed((record,))
            if state is not None:
                state.caught_up_to(record.seq)
            datastore.seq_watch.moved()
            self.applied_records += 1
            if time.perf_counter() - started >= YIELD_EVERY_S:
                await asyncio.sleep(0)
                started = time.perf_counter()

    async def _rebuild(self, *, locked: bool) -> None:
        datastore = self.datastore
        if locked:
            await datastore.rebuild_from_journal()
        else:
            async with datastore.write_lock:
                if datastore.durability.writer is not None:  # became the owner meanwhile
                    return
                await datastore.rebuild_from_journal()
        if datastore.cluster_state is not None:
            datastore.cluster_state.caught_up_to(datastore.durability.seq)

    def close(self) -> None:
        self._waits.shutdown(wait=False, cancel_futures=True)
        self._reads.shutdown(wait=False, cancel_futures=True)

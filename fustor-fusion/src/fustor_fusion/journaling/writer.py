"""Group commit: one view's records, queued in apply order, appended by the view's writer thread.

Records are submitted under the datastore's write lock, so their order is the apply order — and
*before* the engine applies the input (see :mod:`.recording`): the writer thread starts
compressing and committing while the event loop is still arbitrating the batch (zlib and SQLite
release the GIL, so on two cores the commit mostly overlaps with the engine's work). The request
that produced a record waits for :meth:`JournalWriter.durable` after releasing the lock; records
submitted while a commit runs go to the journal together in the next one (group commit): a single
sender pays one commit per batch, many senders share commits.

An append that fails (disk full, I/O error) is retried with backoff, in order, and the requests
waiting for it keep waiting: an answer is never given for a record that is not durable, and the
journal never loses a record the view has applied.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Awaitable

from fustor_core.journal import Journal, NewRecord
from fustor_core.logs import log_event
from fustor_fusion.journaling.inputs import pack

logger = logging.getLogger(__name__)

RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0


class JournalWriter:
    """The append side of one view's journal: a thread, a queue, and the requests waiting."""

    def __init__(self, journal: Journal, *, last_seq: int, name: str) -> None:
        self._journal = journal
        self._name = name
        self._loop = asyncio.get_running_loop()
        self._queue: list[NewRecord] = []
        self._wake = threading.Condition()
        self._stopping = False
        self._submitted = 0
        self._written = 0
        """Records durable (updated in the event loop when the thread reports a commit)."""
        self.last_seq = last_seq
        """Sequence number of the newest durable record."""
        self.failure: str | None = None
        """Why appends are failing right now (None when they are not)."""
        self.appends = 0
        """Appends made (each a group of records): records / appends is the group-commit factor."""
        self._waiters: deque[tuple[int, asyncio.Future[int]]] = deque()
        self._thread = threading.Thread(target=self._run, name=f"journal-{name}", daemon=True)
        self._thread.start()

    def submit(self, record: NewRecord) -> None:
        """Queue a record (call in apply order, under the write lock, from the event loop)."""
        self._submitted += 1
        with self._wake:
            self._queue.append(record)
            self._wake.notify()

    def durable(self) -> Awaitable[int] | None:
        """Something to await until every record submitted so far is durable (it yields the
        sequence number of the newest of them), or None when they already are."""
        if self._written >= self._submitted:
            return None
        future: asyncio.Future[int] = self._loop.create_future()
        self._waiters.append((self._submitted, future))
        return future

    async def flush(self) -> int:
        """Wait until everything submitted is durable; the newest durable sequence number."""
        pending = self.durable()
        if pending is not None:
            await pending
        return self.last_seq

    @property
    def pending(self) -> int:
        """Records submitted but not yet durable."""
        return self._submitted - self._written

    async def aclose(self) -> None:
        """Stop the thread once the queue is empty (the caller stops submitting first)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        await asyncio.to_thread(self._thread.join)

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
                group, self._queue = self._queue, []
            last = self._append(group)
            try:
                self._loop.call_soon_threadsafe(self._committed, len(group), last)
            except RuntimeError:  # the event loop is gone (interpreter shutdown)
                return

    def _append(self, group: list[NewRecord]) -> int:
        packed = [NewRecord(r.time, r.kind, pack(r.payload)) for r in group]
        delay = RETRY_FIRST_S
        failing = False
        while True:
            try:
                last = self._journal.append(packed)
            except Exception as exc:  # retried in order: nothing applied may go unrecorded
                if not failing:
                    log_event(
                        logger,
                        logging.ERROR,
                        "journal append failed; retrying (ingest of this view waits)",
                        datastore=self._name,
                        error=repr(exc),
                    )
                failing = True
                self.failure = repr(exc)
                with self._wake:
                    if self._wake.wait_for(lambda: self._stopping, timeout=delay):
                        raise SystemExit from exc  # stopping with a broken journal: give up
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if failing:
                log_event(logger, logging.WARNING, "journal append works again", datastore=self._name)
                self.failure = None
            return last

    # -- back in the event loop ---------------------------------------------------------------------

    def _committed(self, count: int, last: int) -> None:
        self._written += count
        self.last_seq = last
        self.appends += 1
        written = self._written
        waiters = self._waiters
        while waiters and waiters[0][0] <= written:
            target, future = waiters.popleft()
            if not future.done():
                future.set_result(last - (written - target))

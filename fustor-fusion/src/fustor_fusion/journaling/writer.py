"""Appending a view's records: in the event loop when the journal is fast, by a thread when not.

Records are queued under the datastore's write lock, so their order is the apply order, and
:meth:`JournalWriter.durable` — called before the lock is released — makes them durable:

* **inline**, in the event loop, when nothing else is being appended and appends of this journal
  have been fast (an embedded journal with ``synchronous=normal``: ~0.1 ms for a 1,000-row
  record, plus ~0.3 ms of zlib). Handing such an append to a thread costs more than the append
  itself: two thread wake-ups per batch, which on a busy 2-core machine measured 0.2–2 ms and
  cut single-sender ingest by up to half, where the inline append cost 3–15 %. Never for a
  journal shared across the network (PostgreSQL): a stalled connection would stall the loop;
* **by the writer thread** otherwise — while a thread append is running, when appends have been
  slow (an fsync per commit, a journal across the network: the event loop must not wait on
  them), or after an inline append failed. The request then awaits a future; records queued
  meanwhile go to the journal together in the thread's next append (group commit).

Either way appends happen one at a time, in queue order (one lock), so sequence numbers follow
the apply order. An append that fails is retried by the thread with backoff, in order, and the
requests waiting for it keep waiting: an answer is never given for a record that is not durable,
and the journal never loses a record the view has applied.

Except when retrying cannot help: a shared journal refuses the appends of a node that lost the
view's lease (:class:`~fustor_core.cluster.NotOwner`). The writer then stops for good — every
waiting request fails with :class:`WriterStopped` (never "ok" for a record that is not stored),
and :attr:`JournalWriter.on_lost` tells Fusion to step down. :meth:`JournalWriter.abandon` does
the same on Fusion's word (its lease ran out while appends were failing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable

from fustor_core.cluster import NotOwner
from fustor_core.errors import Unavailable
from fustor_core.journal import Journal, NewRecord
from fustor_core.logs import log_event
from fustor_fusion.journaling.inputs import pack

logger = logging.getLogger(__name__)

RETRY_FIRST_S = 0.1
RETRY_MAX_S = 5.0
INLINE_UP_TO_S = 0.0015
"""Appends are made in the event loop while they take about this long or less (the last slow
append, decaying as fast ones follow)."""
AVERAGE_WEIGHT = 0.2


class WriterStopped(Unavailable):
    """The records a request waits for will never be stored by this node (it lost the view)."""

    code = "not_owner"


class JournalWriter:
    """The append side of one view's journal: a queue, an append lock, a thread for slow appends."""

    def __init__(self, journal: Journal, *, last_seq: int, name: str, inline: bool = True) -> None:
        """:param inline: whether cheap appends may be made in the event loop; False for a
        journal across the network (a shared one), whose appends may stall for as long as the
        connection does — the event loop must go on (refusing ingest, stepping down) meanwhile."""
        self._journal = journal
        self._name = name
        self._inline = inline
        self._loop = asyncio.get_running_loop()
        self._queue: list[NewRecord] = []
        self._wake = threading.Condition()
        """Guards the queue; the thread waits on it."""
        self._appending = threading.Lock()
        """Held by whoever appends (event loop or thread): one append at a time, in queue order."""
        self._stopping = False
        self._submitted = 0
        self._written = 0
        """Records durable (updated in the event loop)."""
        self.last_seq = last_seq
        """Sequence number of the newest durable record."""
        self._first_seq = last_seq + 1
        """The sequence number the first record submitted here gets (the journal numbers
        records consecutively, in the order they are appended, which is the order submitted)."""
        self.on_committed: Callable[[int], None] | None = None
        """Called in the event loop with the newest durable sequence number after each append."""
        self.failure: str | None = None
        """Why appends are failing right now (None when they are not)."""
        self.appends = 0
        """Appends made (each a group of records): records / appends is the group-commit factor."""
        self.inline_appends = 0
        self.average_append_s = 0.0
        self._waiters: deque[tuple[int, asyncio.Future[int]]] = deque()
        self.stopped: str | None = None
        """Why the writer stopped for good (lost the view's lease); None while it works."""
        self.on_lost: Callable[[str], None] | None = None
        """Called in the event loop, once, when an append was refused because this node no
        longer owns the view (the argument says why)."""
        self._thread = threading.Thread(target=self._run, name=f"journal-{name}", daemon=True)
        self._thread.start()

    def submit(self, record: NewRecord) -> int:
        """Queue a record (call in apply order, under the write lock, from the event loop);
        returns the sequence number it will have once durable."""
        self._submitted += 1
        with self._wake:
            self._queue.append(record)
        return self._first_seq + self._submitted - 1

    @property
    def submitted_seq(self) -> int:
        """The sequence number of the newest record submitted (what the view reflects)."""
        return self._first_seq + self._submitted - 1

    def durable(self) -> Awaitable[int] | None:
        """Make every record submitted so far durable: inline when that is cheap (then None is
        returned), else something to await (it yields the sequence number of the newest)."""
        if self._written >= self._submitted:
            return None
        if self.stopped is not None:
            failed: asyncio.Future[int] = self._loop.create_future()
            failed.set_exception(WriterStopped(self.stopped))
            return failed
        if (
            self._inline
            and self.average_append_s <= INLINE_UP_TO_S
            and self._appending.acquire(blocking=False)
        ):
            try:
                self._append_inline()
            finally:
                self._appending.release()
            if self._written >= self._submitted:
                return None
        future: asyncio.Future[int] = self._loop.create_future()
        self._waiters.append((self._submitted, future))
        with self._wake:
            self._wake.notify()
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

    def abandon(self, reason: str) -> int:
        """Stop for good without storing what is queued (this node no longer owns the view):
        waiting requests fail, the thread ends after the append it may be in. Returns how many
        records were submitted and not (yet) durable: if any, the view applied inputs the
        journal may never hold."""
        lost = self._submitted - self._written
        with self._wake:
            self._queue = []
            self._stopping = True
            self._wake.notify()
        self._stop(reason)
        return lost

    def _stop(self, reason: str) -> None:
        """In the event loop: no more appends; every waiting request fails."""
        if self.stopped is None:
            self.stopped = reason
        waiters, self._waiters = self._waiters, deque()
        for _, future in waiters:
            if not future.done():
                future.set_exception(WriterStopped(reason))

    def _lost(self, reason: str) -> None:
        """In the event loop: an append was refused (NotOwner)."""
        first = self.stopped is None
        self._stop(reason)
        if first and self.on_lost is not None:
            self.on_lost(reason)

    # -- appending --------------------------------------------------------------------------------

    def _take(self) -> list[NewRecord]:
        with self._wake:
            group, self._queue = self._queue, []
        return group

    def _append_inline(self) -> None:
        """In the event loop, holding the append lock: one try; a failure goes to the thread."""
        group = self._take()
        if not group:
            return
        try:
            last = self._append_once(group)
        except Exception:  # the thread retries, in order, with backoff
            with self._wake:
                self._queue[:0] = group
            return
        self.inline_appends += 1
        self._committed(len(group), last)

    def _append_once(self, group: list[NewRecord]) -> int:
        started = time.perf_counter()
        last = self._journal.append([NewRecord(r.time, r.kind, pack(r.payload)) for r in group])
        took = time.perf_counter() - started
        # rises at once (one stall sends appends to the thread), falls back slowly
        average = self.average_append_s
        self.average_append_s = took if took > average else average + AVERAGE_WEIGHT * (took - average)
        return last

    def _run(self) -> None:
        """The writer thread: appends whatever is queued when woken, retrying failures."""
        while True:
            with self._wake:
                while not self._queue and not self._stopping:
                    self._wake.wait()
                if not self._queue:
                    return
            with self._appending:
                group = self._take()
                if not group:  # the event loop appended it meanwhile
                    continue
                try:
                    last = self._append_retrying(group)
                except NotOwner as exc:
                    with self._wake:
                        self._queue = []
                        self._stopping = True
                    reason = f"the journal refused an append: {exc.message}"
                    log_event(
                        logger, logging.ERROR, "journal append refused", datastore=self._name, error=reason
                    )
                    with contextlib.suppress(RuntimeError):  # the event loop is gone
                        self._loop.call_soon_threadsafe(self._lost, reason)
                    return
            if last is None:
                return
            try:
                self._loop.call_soon_threadsafe(self._committed, len(group), last)
            except RuntimeError:  # the event loop is gone (interpreter shutdown)
                return

    def _append_retrying(self, group: list[NewRecord]) -> int | None:
        delay = RETRY_FIRST_S
        failing = False
        while True:
            try:
                last = self._append_once(group)
            except NotOwner:
                raise  # retrying cannot help: another node owns the view
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
                        return None  # stopping with a broken journal: give up
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            if failing:
                log_event(logger, logging.WARNING, "journal append works again", datastore=self._name)
                self.failure = None
            return last

    # -- in the event loop ------------------------------------------------------------------------

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
        if self.on_committed is not None:
            self.on_committed(last)

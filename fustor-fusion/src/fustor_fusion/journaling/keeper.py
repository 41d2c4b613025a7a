"""``ViewJournal``: keeps one view durable — loads it at start, records its inputs, snapshots it.

Start: open the journal, load the newest snapshot that passes its checks (falling back to older
ones), replay the records after it, then hand the view over for serving. Snapshot load and replay
are timed apart and reported (log line ``view loaded``, the view's stats). If the stored view
cannot be rebuilt (every snapshot damaged and the records it covered already trimmed), the
journal is reset: the view starts empty under a new ``view_id`` and the agents re-send.

Serving: every input is queued to the :class:`~fustor_fusion.journaling.writer.JournalWriter`;
:meth:`ViewJournal.durable` appends it (inline when cheap) or gives what the request awaits
before it answers. After a
write, :meth:`ViewJournal.after_write` starts a background snapshot when the policy says so: it
takes the write lock (ingest of this view waits; queries go on), waits for the pending records,
and dumps the view in a worker thread straight into the journal.

Without a journal (``driver: none``) the same object numbers the inputs in memory and the view
is never restored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fustor_core.cluster import SharedJournal
from fustor_core.journal import (
    Journal,
    JournalCorrupt,
    JournalRecord,
    JournalState,
    NewRecord,
    SnapshotInfo,
)
from fustor_core.logs import log_event
from fustor_fusion.config import JournalConfig
from fustor_fusion.feed.outcome import Outcome
from fustor_fusion.journaling import inputs
from fustor_fusion.journaling.policy import SnapshotPolicy
from fustor_fusion.journaling.recording import JournaledView
from fustor_fusion.journaling.replay import replay_record
from fustor_fusion.journaling.view_snapshot import can_snapshot, dump_view, restore_view
from fustor_fusion.journaling.writer import JournalWriter, WriterStopped

logger = logging.getLogger(__name__)

READ_BATCH = 2000
"""Records read per call while replaying."""
STOP_FLUSH_S = 30.0
"""How long a stopping Fusion waits for a failing journal to take its pending records."""


def _loop_reader(loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], Any]], Any]:
    """For a worker thread: run a function in ``loop``'s thread and wait for its result."""

    def run(read: Callable[[], Any]) -> Any:
        done: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def call() -> None:
            try:
                done.set_result(read())
            except BaseException as exc:
                done.set_exception(exc)

        loop.call_soon_threadsafe(call)
        return done.result()

    return run


class _Unreadable(Exception):
    """The journal's records cannot be read (the store is damaged beyond skipping a record)."""


class ViewJournal:
    """The durability of one datastore's view."""

    def __init__(
        self, name: str, journal: Journal | None, config: JournalConfig, *, now: Callable[[], float]
    ) -> None:
        self.name = name
        self.journal = journal
        self.config = config
        self._now = now
        self.view_id = "v-" + secrets.token_urlsafe(12)
        """Replaced by the journal's own when there is one."""
        self.restored = False
        """The view was rebuilt from a journal (it survived a restart)."""
        self.progress = "waiting for its turn to load"
        """What loading is doing now, for /readyz (meaningless once loaded)."""
        self.report: dict[str, Any] = {}
        """How the view was loaded: snapshot and replay figures, problems found."""
        self.writer: JournalWriter | None = None
        self.policy = SnapshotPolicy.from_config(config, now())
        self._memory_seq = 0
        self._applied = 0
        """The last record applied (when not recording: a replica)."""
        self._abandoned: list[JournalWriter] = []
        self.on_lost: Callable[[str], None] | None = None
        """Told when the journal refused an append because this node lost the view's lease."""
        self._snapshot_task: asyncio.Task[None] | None = None
        self._closing = False
        self.snapshots_written = 0
        self.last_snapshot: dict[str, Any] = {}
        self.on_outcome: Callable[[int, Outcome], None] | None = None
        """Told each recorded outcome with the sequence number its record gets (the change feed)."""
        self.on_durable: Callable[[int], None] | None = None
        """Told the newest durable sequence number whenever it grows (the change feed publishes)."""

    # -- start ------------------------------------------------------------------------------------

    async def load(
        self, make_view: Callable[[], JournaledView], view: JournaledView, *, record: bool = True
    ) -> JournaledView:
        """The view rebuilt from the journal (``view`` itself, fresh, when there is nothing to
        rebuild), recording from now on — or, with ``record=False`` (a cluster node, which
        records only once it owns the view), not recording: :meth:`start_recording` then."""
        journal = self.journal
        if journal is None:
            view.recorder = self._count
            return view
        self.progress = "opening the journal"
        state = await asyncio.to_thread(journal.open)
        return await self._rebuild(journal, state, make_view, view, record=record)

    async def rebuild(self, make_view: Callable[[], JournaledView]) -> JournaledView:
        """A new view rebuilt from the journal as it stands (newest snapshot and the records
        after it), not recording: for a node whose view diverged from the journal (it applied
        inputs whose records were never stored) before it follows the journal again."""
        journal = self.journal
        assert journal is not None
        snapshots = await asyncio.to_thread(journal.snapshots)
        state = JournalState(
            view_id=self.view_id,
            last_seq=self._applied,
            first_seq=1 if not snapshots else 0,  # a gap after the snapshot shows in the replay
            snapshots=snapshots,
        )
        return await self._rebuild(journal, state, make_view, make_view(), record=False)

    async def _rebuild(
        self,
        journal: Journal,
        state: JournalState,
        make_view: Callable[[], JournaledView],
        view: JournaledView,
        *,
        record: bool,
    ) -> JournaledView:
        started = time.perf_counter()
        problems = list(state.problems)
        view, snapshot_seq, snapshot_s = await self._load_snapshot(journal, state, make_view, view, problems)
        if snapshot_seq is None and state.first_seq > 1:
            # records before first_seq are gone and no snapshot stands in for them
            reason = "no usable snapshot covers the records trimmed from the journal"
            if not record:  # a journal other nodes share is never reset by one that does not own it
                raise _Unreadable(reason)
            problems.append(reason + "; the view starts empty under a new view id")
            state = await asyncio.to_thread(journal.reset, reason)
            view = make_view()
        replay_started = time.perf_counter()
        try:
            replayed, rows, skipped, last = await self._replay(
                journal, view, snapshot_seq or 0, state.last_seq, problems
            )
        except _Unreadable as exc:
            if not record:
                raise
            # the store is damaged past repair: a new incarnation, and the agents re-send everything
            problems.append(f"{exc}; the view starts empty under a new view id")
            state = await asyncio.to_thread(journal.reset, str(exc))
            view, snapshot_seq, replayed, rows, skipped, last = make_view(), None, 0, 0, 0, 0
        replay_s = time.perf_counter() - replay_started
        self.view_id = state.view_id
        self.restored = not state.created
        # a journal several nodes share may have grown since open(): the replay read to its end
        self._applied = max(last, state.last_seq if record else 0, snapshot_seq or 0)
        self.policy = SnapshotPolicy.from_config(self.config, self._now())
        self.policy.rows_since = rows  # the replayed tail is in no snapshot yet
        self.policy.inputs_since = replayed
        if not record and rows:  # a replica: the tail as one lump, for a later takeover's rebase
            self.policy.followed.append((self._applied, rows, replayed > 0))
        if record:
            self.start_recording(view)
        files = view.store.totals().files
        self.report = {
            "snapshot_seq": snapshot_seq,
            "snapshot_load_s": round(snapshot_s, 3),
            "replayed_records": replayed,
            "skipped_records": skipped,
            "replay_s": round(replay_s, 3),
            "load_s": round(time.perf_counter() - started, 3),
            "problems": problems,
        }
        log_event(
            logger,
            logging.INFO,
            "view loaded",
            datastore=self.name,
            view_id=self.view_id,
            restored=self.restored,
            files=files,
            seq=self._applied,
            snapshot_seq=snapshot_seq,
            snapshot_load_s=f"{snapshot_s:.3f}",
            replayed=replayed,
            replay_s=f"{replay_s:.3f}",
            problems=len(problems),
        )
        for problem in problems:
            log_event(logger, logging.ERROR, "journal problem", datastore=self.name, problem=problem)
        return view

    async def _load_snapshot(
        self,
        journal: Journal,
        state: JournalState,
        make_view: Callable[[], JournaledView],
        view: JournaledView,
        problems: list[str],
    ) -> tuple[JournaledView, int | None, float]:
        """The view with the newest usable snapshot loaded (and its seq and load time), or the
        fresh view and None when no snapshot can be used."""
        for snapshot in state.snapshots:
            if snapshot.seq < state.first_seq - 1:
                problems.append(f"snapshot {snapshot.seq} is older than the records kept; not used")
                continue
            self.progress = f"loading snapshot {snapshot.seq} ({snapshot.size:,} bytes)"
            started = time.perf_counter()
            try:
                await asyncio.to_thread(restore_view, view, journal.load_snapshot(snapshot.seq))
            except Exception as exc:  # damaged, or written by an incompatible version: never fatal
                reason = str(exc) if isinstance(exc, JournalCorrupt) else repr(exc)
                problems.append(f"snapshot {snapshot.seq} cannot be loaded ({reason}); trying an older one")
                view = make_view()
                continue
            return view, snapshot.seq, time.perf_counter() - started
        return view, None, 0.0

    async def _replay(
        self, journal: Journal, view: JournaledView, after: int, last: int, problems: list[str]
    ) -> tuple[int, int, int, int]:
        """Replay the records after ``after``; returns (records replayed, their rows, skipped,
        the last sequence number read)."""
        replayed = rows = skipped = 0
        total = max(0, last - after)
        while True:
            self.progress = f"replaying the journal: {replayed:,} of about {total:,} records"
            try:
                batch = await asyncio.to_thread(journal.read, after, READ_BATCH)
            except Exception as exc:
                raise _Unreadable(f"the journal cannot be read after record {after} ({exc!r})") from exc
            if not batch:
                break
            if batch[0].seq != after + 1:
                missing = batch[0].seq - after - 1
                skipped += missing
                problems.append(
                    f"records {after + 1}..{batch[0].seq - 1} failed their checks and were skipped"
                )
            done, weight, failed = await asyncio.to_thread(self._replay_batch, view, batch)
            replayed += done
            rows += weight
            skipped += len(failed)
            problems.extend(failed)
            after = batch[-1].seq
        return replayed, rows, skipped, after

    @staticmethod
    def _replay_batch(view: JournaledView, batch: list[JournalRecord]) -> tuple[int, int, list[str]]:
        done = weight = 0
        failed: list[str] = []
        for record in batch:
            try:
                weight += replay_record(view, record)
            except Exception as exc:  # one bad record must not stop the view from loading
                failed.append(f"record {record.seq} ({record.kind}) could not be replayed ({exc!r}); skipped")
                continue
            done += 1
        return done, weight, failed

    # -- recording --------------------------------------------------------------------------------

    def start_recording(self, view: JournaledView) -> None:
        """Record the view's inputs from now on, numbered after the last record applied (the
        caller made sure nobody else appends: a single node, or the owner that fenced)."""
        assert self.journal is not None
        # a journal other nodes share is across the network: never append in the event loop
        shared = isinstance(self.journal, SharedJournal)
        self.writer = JournalWriter(self.journal, last_seq=self._applied, name=self.name, inline=not shared)
        self.writer.on_committed = self._committed
        self.writer.on_lost = self._lost
        view.recorder = self._record

    def stop_recording(self, view: JournaledView, reason: str) -> int:
        """Stop recording (this node no longer owns the view): requests waiting for their
        records fail. Returns how many applied inputs were not stored (then the view diverged
        from the journal and must be rebuilt); following resumes after the last durable one."""
        view.recorder = None
        writer, self.writer = self.writer, None
        if writer is None:
            return 0
        writer.on_committed = None  # an append still running may land: the journal tells, not it
        lost = writer.abandon(reason)
        self._applied = writer.last_seq
        self._abandoned.append(writer)
        return lost

    async def join_stopped_writers(self, timeout: float) -> bool:
        """Wait until the threads of writers stopped earlier have ended (one may be inside an
        append that stalls); False if one has not after ``timeout`` seconds. No two writers of
        this node append at once."""
        deadline = time.monotonic() + timeout
        while self._abandoned:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._abandoned[0].aclose(), left)
            except TimeoutError:
                return False
            self._abandoned.pop(0)
        return True

    def rebase_policy(self, newest: SnapshotInfo | None) -> None:
        """Taking the view over: snapshot again once enough has arrived since the previous
        owner's newest snapshot (``newest``), not since this node started following."""
        self.policy.rebase(
            newest.seq if newest is not None else None,
            newest.time if newest is not None else None,
            self._now(),
        )

    def applied(self, record: JournalRecord, weight: int) -> None:
        """A replica applied ``record`` (it follows the journal)."""
        self._applied = record.seq
        self.policy.note_followed(record.seq, record.kind, weight)

    def _lost(self, reason: str) -> None:
        if self.on_lost is not None:
            self.on_lost(reason)

    def _record(
        self, kind: str, at: float, encode: Callable[[], bytes], weight: int, outcome: Outcome | None
    ) -> None:
        writer = self.writer
        assert writer is not None
        payload = encode()
        if outcome is not None:
            payload = inputs.with_outcome(payload, outcome.encode())
        seq = writer.submit(NewRecord(time=at, kind=kind, payload=payload))
        self.policy.note(kind, weight)
        if outcome is not None and self.on_outcome is not None:
            self.on_outcome(seq, outcome)

    def _count(
        self, kind: str, at: float, encode: Callable[[], bytes], weight: int, outcome: Outcome | None
    ) -> None:
        self._memory_seq += 1
        if outcome is not None and self.on_outcome is not None:
            self.on_outcome(self._memory_seq, outcome)
        if self.on_durable is not None:  # kept in memory only: as durable as it gets
            self.on_durable(self._memory_seq)

    def _committed(self, last_seq: int) -> None:
        if self.on_durable is not None:
            self.on_durable(last_seq)

    def durable(self) -> Awaitable[int] | None:
        """What a request awaits before answering: its records durable (None: nothing to wait for)."""
        return self.writer.durable() if self.writer is not None else None

    @property
    def seq(self) -> int:
        """The newest durable sequence number the view holds (a replica: the last it applied;
        without a journal: inputs applied so far)."""
        if self.writer is not None:
            return self.writer.last_seq
        return self._applied if self.journal is not None else self._memory_seq

    @property
    def applied_seq(self) -> int:
        """The sequence number of the newest input the view reflects (on a recording node it may
        not be durable yet)."""
        if self.writer is not None:
            return self.writer.submitted_seq
        return self._applied if self.journal is not None else self._memory_seq

    def info(self) -> dict[str, Any]:
        """The view's identity as told to agents: ``{id, seq, restored}``."""
        return {"id": self.view_id, "seq": self.seq, "restored": self.restored}

    def stats(self) -> dict[str, Any]:
        answer: dict[str, Any] = {"driver": self.config.driver, **self.info()}
        if self.journal is not None:
            answer.update(self.report)
            answer["snapshots_written"] = self.snapshots_written
            answer["last_snapshot"] = self.last_snapshot or None
            writer = self.writer
            if writer is not None:
                answer["pending_records"] = writer.pending
                answer["appends"] = writer.appends
                answer["inline_appends"] = writer.inline_appends
                answer["average_append_ms"] = round(writer.average_append_s * 1000, 3)
                answer["append_error"] = writer.failure
            answer["rows_since_snapshot"] = self.policy.rows_since
            answer["snapshot_running"] = self._snapshot_task is not None
        return answer

    # -- snapshots --------------------------------------------------------------------------------

    def after_write(self, lock: asyncio.Lock, view: Callable[[], JournaledView]) -> None:
        """Start a background snapshot if one is due and none is running."""
        if self.writer is None or self._closing or self._snapshot_task is not None:
            return
        current = view()
        if not can_snapshot(current) or not self.policy.due(current.store.totals().files, self._now()):
            return
        self._snapshot_task = asyncio.get_running_loop().create_task(
            self._background_snapshot(lock, view), name=f"snapshot-{self.name}"
        )

    async def _background_snapshot(self, lock: asyncio.Lock, view: Callable[[], JournaledView]) -> None:
        try:
            await self.snapshot(lock, view)
        except Exception as exc:
            self.policy.failed(self._now())
            log_event(logger, logging.ERROR, "snapshot failed", datastore=self.name, error=repr(exc))
        finally:
            self._snapshot_task = None

    async def snapshot(self, lock: asyncio.Lock, view: Callable[[], JournaledView]) -> dict[str, Any] | None:
        """Write a snapshot of the view now (waits for the write lock); its figures."""
        journal, writer = self.journal, self.writer
        if journal is None or writer is None or not can_snapshot(view()):
            return None
        async with lock:
            seq = await writer.flush()
            current = view()
            files = current.store.totals().files
            started = time.perf_counter()
            in_loop = _loop_reader(asyncio.get_running_loop())
            info = await asyncio.to_thread(journal.write_snapshot, seq, dump_view(current, in_loop))
            pause = time.perf_counter() - started
            self.policy.taken(self._now())
        trimmed = await asyncio.to_thread(journal.trim, before=self._now() - self.config.retention_s)
        self.snapshots_written += 1
        self.last_snapshot = {
            "seq": info.seq,
            "bytes": info.size,
            "files": files,
            "bytes_per_file": round(info.size / files, 1) if files else None,
            "ingest_pause_s": round(pause, 3),
            "trimmed_records": trimmed,
        }
        log_event(logger, logging.INFO, "snapshot written", datastore=self.name, **self.last_snapshot)
        return self.last_snapshot

    # -- stop -------------------------------------------------------------------------------------

    async def close(
        self,
        lock: asyncio.Lock,
        view: Callable[[], JournaledView],
        *,
        before_close: Callable[[], None] | None = None,
    ) -> None:
        """Finish pending records, snapshot if configured and anything changed, close the journal
        (``before_close`` runs in a thread just before: a cluster owner releases its lease)."""
        self._closing = True
        running = self._snapshot_task
        if running is not None:
            await asyncio.gather(running, return_exceptions=True)
        journal, writer = self.journal, self.writer
        if journal is None:
            return
        if writer is not None:
            try:
                await asyncio.wait_for(writer.flush(), timeout=STOP_FLUSH_S)
            except TimeoutError:
                log_event(
                    logger,
                    logging.ERROR,
                    "journal still failing at stop; unwritten records are lost",
                    datastore=self.name,
                    pending=writer.pending,
                )
                await writer.aclose()
                await asyncio.to_thread(journal.close)
                return
            except WriterStopped:  # lost the view meanwhile: nothing more to store
                await writer.aclose()
                writer = None
            if writer is not None and self.config.snapshot_on_stop and self.policy.inputs_since:
                try:
                    await self.snapshot(lock, view)
                except Exception as exc:
                    log_event(
                        logger, logging.ERROR, "snapshot at stop failed", datastore=self.name, error=repr(exc)
                    )
            if writer is not None:
                await writer.aclose()
        await self.join_stopped_writers(STOP_FLUSH_S)
        if before_close is not None:
            try:
                await asyncio.to_thread(before_close)
            except Exception as exc:
                log_event(
                    logger,
                    logging.ERROR,
                    "stop: leaving the view failed",
                    datastore=self.name,
                    error=repr(exc),
                )
        await asyncio.to_thread(journal.close)

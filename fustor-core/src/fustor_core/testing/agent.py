"""Drive a sync mode without an agent: a recording :class:`FakeSyncContext` and a scripted
:class:`FakeSource`; and a pusher: :class:`FakePusherLink` hands it a scripted stream.

A sync mode only talks to its :class:`~fustor_core.agent_api.SyncContext`, so a test runs the
mode's ``run(ctx)`` (or one of its steps) on a fake one and reads what the mode did, in order::

    source = FakeSource(snapshot=[[{"path": "/a", "is_dir": True}, {"path": "/a/f"}]])
    ctx = FakeSyncContext(source, batch_size=2)
    asyncio.run(MyMode().scan_once(ctx))
    assert ctx.signals() == ["snapshot/start", "snapshot/end"]
    assert ctx.published[0].rows == [{"path": "/a", "is_dir": True}, {"path": "/a/f"}]

The context behaves like the agent's where it matters to a mode: ``pump`` runs the source's
blocking iterator in worker threads and awaits each ``consume`` before asking for the next item
(backpressure), cancelling sets the iterator's ``stop``; ``wait_for_trigger`` sleeps for its
timeout unless :meth:`FakeSyncContext.trigger` is called; ``signal(wait=True)`` answers what the
test scripted. With pytest, the ``sync_context`` and ``fake_source`` fixtures of core's pytest
plugin build them and stop what is left running at the end of the test.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from fustor_core.agent_api import (
    SNAPSHOT_START,
    DirCache,
    OutgoingEvent,
    RealtimeItem,
    Role,
    RowDict,
    SentinelCheck,
    SessionInfo,
    Signal,
    Source,
    TenureStart,
)

T = TypeVar("T")

_END = object()


@dataclass
class FakePipeSettings:
    """The pipe settings a mode reads (:class:`~fustor_core.agent_api.PipeSettings`), with the
    agent's defaults; a test overrides what it needs (``FakeSyncContext(source, batch_size=2)``).
    A mode's own settings are its options, given to the mode's constructor, not pipe settings."""

    heartbeat_interval_s: float = 10.0
    batch_size: int = 5000
    flush_interval_s: float = 0.0
    bus_capacity: int = 20_000


# --------------------------------------------------------------------------------------------
# the source
# --------------------------------------------------------------------------------------------


@dataclass
class SourceCall:
    """One call a mode made of a :class:`FakeSource`."""

    method: str
    """``watch``, ``snapshot``, ``audit`` or ``recheck``."""
    batch_size: int | None = None
    dir_cache: DirCache | None = None
    """The cache object the mode handed over (compare with ``ctx.dir_cache`` by identity)."""
    cached: frozenset[str] = frozenset()
    """The directories ``dir_cache`` held when the call was made."""
    deep: Callable[[str], bool] | None = None
    paths: list[str] = field(default_factory=list)
    """What ``recheck`` was asked for."""


class FakeSource:
    """A :class:`~fustor_core.agent_api.Source` that yields what the test scripted.

    :param snapshot: the batches ``snapshot()`` yields (lists of row dicts);
    :param audit: the batches ``audit()`` yields (default: the snapshot's);
    :param realtime: the item lists ``watch()`` yields after calling ``ready()``; then the
        stream ends, or with ``keep_watching=True`` waits for ``stop`` as a real one does;
    :param files: ``path -> (mtime, size)`` that ``recheck`` finds; other paths are gone;
    :param unreadable: paths whose re-check fails (left out of the answer, as an EIO is).

    A scan records each directory it sent fully listed (no ``audit_skipped``) in the
    ``dir_cache`` it was handed, as a real source does. Every call is in :attr:`calls`.
    """

    uri = "fake://source"

    def __init__(
        self,
        *,
        snapshot: Sequence[list[RowDict]] = (),
        audit: Sequence[list[RowDict]] | None = None,
        realtime: Sequence[list[RealtimeItem]] = (),
        keep_watching: bool = False,
        files: Mapping[str, tuple[float, int]] | None = None,
        unreadable: Iterable[str] = (),
    ) -> None:
        self.snapshot_batches = [list(batch) for batch in snapshot]
        self.audit_batches = self.snapshot_batches if audit is None else [list(batch) for batch in audit]
        self.realtime_items = [list(items) for items in realtime]
        self.keep_watching = keep_watching
        self.files: dict[str, tuple[float, int]] = dict(files or {})
        self.unreadable = set(unreadable)
        self.calls: list[SourceCall] = []
        self.closed = False
        self.watch_ended = threading.Event()
        """Set when a ``watch`` stream ended (its items done, or ``stop`` set)."""
        self._lock = threading.Lock()

    def _record(self, call: SourceCall) -> None:
        with self._lock:
            self.calls.append(call)

    def called(self, method: str) -> list[SourceCall]:
        """The calls of ``method``, in order."""
        return [call for call in self.calls if call.method == method]

    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int
    ) -> Iterator[list[RealtimeItem]]:
        self._record(SourceCall("watch", batch_size=batch_size))
        try:
            ready()
            for items in self.realtime_items:
                if stop.is_set():
                    return
                yield items
            if self.keep_watching:
                stop.wait()
        finally:
            self.watch_ended.set()

    def snapshot(
        self, stop: threading.Event, batch_size: int, dir_cache: DirCache
    ) -> Iterator[list[RowDict]]:
        self._record(SourceCall("snapshot", batch_size, dir_cache, frozenset(dir_cache)))
        return self._scan(self.snapshot_batches, stop, dir_cache)

    def audit(
        self,
        stop: threading.Event,
        batch_size: int,
        dir_cache: DirCache,
        deep: Callable[[str], bool] | None = None,
    ) -> Iterator[list[RowDict]]:
        self._record(SourceCall("audit", batch_size, dir_cache, frozenset(dir_cache), deep))
        return self._scan(self.audit_batches, stop, dir_cache)

    @staticmethod
    def _scan(
        batches: list[list[RowDict]], stop: threading.Event, dir_cache: DirCache
    ) -> Iterator[list[RowDict]]:
        for batch in batches:
            if stop.is_set():
                return
            for row in batch:
                if row.get("is_dir") and not row.get("audit_skipped"):
                    dir_cache[row["path"]] = row.get("mtime", 0.0)
            yield [dict(row) for row in batch]

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        self._record(SourceCall("recheck", paths=list(paths)))
        checks: list[SentinelCheck] = []
        for path in paths:
            if path in self.unreadable:
                continue  # unknown is not gone: left out
            found = self.files.get(path)
            if found is None:
                checks.append({"path": path, "exists": False})
            else:
                checks.append({"path": path, "exists": True, "mtime": found[0], "size": found[1]})
        return checks

    def counters(self) -> dict[str, int]:
        return {f"{method}_calls": len(self.called(method)) for method in ("snapshot", "audit", "recheck")}

    def stat_errors(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self.closed = True


# --------------------------------------------------------------------------------------------
# the context
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompletedScan:
    """What a ``scan_completed()`` call would have the agent save."""

    dir_cache: dict[str, Any]
    mode_state: dict[str, Any]
    scan_lock_held: bool
    """True when called with the scan lock held (as a mode must)."""


@dataclass(frozen=True)
class ReadyCall:
    """How a mode called ``ctx.ready()``."""

    in_worker_thread: bool
    """True when called from a thread other than the main one (realtime: from its watch)."""
    scan_lock_held: bool


class FakeSyncContext:
    """A :class:`~fustor_core.agent_api.SyncContext` that records everything a mode does.

    :attr:`log` holds, in order: ``("ready",)``, ``("publish", source, type, [paths])``,
    ``("signal", name, wait)``, ``("scan_completed",)``, ``("relist", (paths...), reason)`` and
    ``("feedback", n)``; :attr:`scans_completed` holds what the agent would save at each
    ``scan_completed()`` (:class:`CompletedScan`: the cache, the mode state, the scan lock held);
    :attr:`published` the events themselves, :attr:`progress` the merged ``report`` fields,
    :attr:`waits` the timeouts of each ``wait_for_trigger``, :attr:`feedback` the sentinel
    updates sent.

    :param signal_answers: what ``signal(name, wait=True)`` returns, by signal name (default
        ``{}``); a :class:`BaseException` is raised instead (a refused signal).
    :param sentinel_tasks: the successive answers of ``sentinel_tasks()`` (each a list of paths,
        or an exception to raise); ``[]`` once they are used up. The ``limit`` of each call is
        in :attr:`sentinel_limits`.
    :param relisting: what ``request_relisting`` answers (the agent says False on a follower).
    :param tenure_start: how the leader tenure begins (default: with a snapshot); a resumed
        one is ``TenureStart("audit", "view_restored")``;
    :param mode_state: the mode's saved state handed back on a resumed tenure (default ``{}``);
    :param settings: overrides of :class:`FakePipeSettings`.
    """

    def __init__(
        self,
        source: Source | None = None,
        *,
        pipe: str = "demo",
        datastore: str = "demo",
        role: Role | None = "leader",
        signal_answers: Mapping[str, dict[str, Any] | BaseException] | None = None,
        sentinel_tasks: Iterable[list[str] | BaseException] = (),
        relisting: bool = True,
        tenure_start: TenureStart = SNAPSHOT_START,
        mode_state: dict[str, Any] | None = None,
        **settings: Any,
    ) -> None:
        self.pipe = pipe
        self.datastore = datastore
        self.source: Source = source if source is not None else FakeSource()
        self.settings = replace(FakePipeSettings(), **settings)
        self.role = role
        self.tenure_start = tenure_start
        self.mode_state: dict[str, Any] = dict(mode_state or {})
        self.scans_completed: list[CompletedScan] = []
        self.dir_cache: DirCache = {}
        self.scan_lock = asyncio.Lock()
        self.signal_answers = dict(signal_answers or {})
        self.sentinel_answers = list(sentinel_tasks)
        self.relisting = relisting
        self.log: list[tuple[Any, ...]] = []
        self.published: list[OutgoingEvent] = []
        self.progress: dict[str, Any] = {}
        self.waits: list[float | None] = []
        self.ready_calls: list[ReadyCall] = []
        self.feedback: list[list[SentinelCheck]] = []
        self.sentinel_limits: list[int] = []
        self.ready_event = threading.Event()
        """Set by the first ``ready()``: wait on it (with a timeout) from a test."""
        self._lock = threading.Lock()
        self._trigger = asyncio.Event()
        self._pending: dict[str, Any] = {}
        self._requested: dict[str, Any] = {}
        self._stops: set[threading.Event] = set()

    def _append(self, entry: tuple[Any, ...]) -> None:
        with self._lock:  # ready() comes from worker threads
            self.log.append(entry)

    # -- what the test does -----------------------------------------------------------------

    def trigger(self, **requested: Any) -> None:
        """Wake the mode's ``wait_for_trigger`` as the agent API would (``deep=True``, ...)."""
        self._pending.update(requested)
        self._trigger.set()

    def stop_pumps(self) -> None:
        """Set the ``stop`` event of every running ``pump`` (a graceful stop)."""
        for stop in list(self._stops):
            stop.set()

    def signals(self) -> list[str]:
        """The names of the signals sent, in order."""
        return [entry[1] for entry in self.log if entry[0] == "signal"]

    # -- SyncContext ------------------------------------------------------------------------

    def ready(self) -> None:
        held = self.scan_lock.locked()
        self.ready_calls.append(ReadyCall(threading.current_thread() is not threading.main_thread(), held))
        self._append(("ready",))
        self.ready_event.set()

    async def scan_completed(self) -> None:
        state = copy.deepcopy(self.mode_state)
        self.scans_completed.append(CompletedScan(dict(self.dir_cache), state, self.scan_lock.locked()))
        self._append(("scan_completed",))

    async def publish(self, event: OutgoingEvent) -> None:
        self.published.append(event)
        self._append(("publish", event.message_source, event.event_type, [row["path"] for row in event.rows]))

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        self._append(("signal", name, wait))
        if not wait:
            return None
        answer = self.signal_answers.get(name, {})
        if isinstance(answer, BaseException):
            raise answer
        return dict(answer)

    async def pump(
        self,
        produce: Callable[[threading.Event], Iterable[T]],
        consume: Callable[[T], Awaitable[None]],
    ) -> None:
        stop = threading.Event()
        self._stops.add(stop)
        try:
            iterator = iter(await asyncio.to_thread(produce, stop))
            while True:
                item = await asyncio.to_thread(next, iterator, _END)
                if item is _END:
                    return
                await consume(item)  # type: ignore[arg-type]
        finally:
            stop.set()  # a cancelled pump tells its iterator to end
            self._stops.discard(stop)

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(func, *args)

    async def wait_for_trigger(self, timeout: float | None) -> bool:
        self.waits.append(timeout)
        try:
            await asyncio.wait_for(self._trigger.wait(), timeout)
        except TimeoutError:
            self._requested = {}
            return False
        self._trigger.clear()
        self._requested, self._pending = self._pending, {}
        return True

    @property
    def requested(self) -> dict[str, Any]:
        return self._requested

    def request_relisting(self, paths: Sequence[str], reason: str) -> bool:
        self._append(("relist", tuple(paths), reason))
        return self.relisting

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        self.sentinel_limits.append(limit)
        if not self.sentinel_answers:
            return []
        answer = self.sentinel_answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return list(answer)

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        self.feedback.append(list(updates))
        self._append(("feedback", len(updates)))
        return {"accepted": len(updates)}


# --------------------------------------------------------------------------------------------
# the pusher's link
# --------------------------------------------------------------------------------------------


class FakePusherLink:
    """A :class:`~fustor_core.agent_api.PusherLink` that hands a pusher the items the test
    queued, then ``[]`` (the stream closed and drained), and records what the pusher reported.

    :param items: the stream, in order (:class:`~fustor_core.agent_api.OutgoingEvent` and
        :class:`~fustor_core.agent_api.Signal`; give a signal a future with :meth:`signal`);
    :param ended_tenures: tenures that are over: their items are not current.

    :attr:`sessions` holds every ``session_changed`` argument, :attr:`counters` the summed
    ``count`` calls, :attr:`errors` the ``error`` messages.
    """

    def __init__(
        self,
        items: Iterable[OutgoingEvent | Signal] = (),
        *,
        ended_tenures: Iterable[int] = (),
        **settings: Any,
    ) -> None:
        self.agent_id = "test-agent"
        self.source_uri = "fake://source"
        self.settings = replace(FakePipeSettings(), **settings)
        self.queue: list[OutgoingEvent | Signal] = list(items)
        self.ended_tenures = set(ended_tenures)
        self.sessions: list[SessionInfo | None] = []
        self.counters: dict[str, int] = {}
        self.errors: list[str] = []

    @staticmethod
    def signal(name: str, tenure: int | None = None) -> Signal:
        """A signal whose ``done`` future a test can await (make it inside the event loop)."""
        return Signal(name, tenure, asyncio.get_running_loop().create_future())

    async def take(self, max_rows: int, linger_s: float = 0.0) -> list[OutgoingEvent | Signal]:
        taken: list[OutgoingEvent | Signal] = []
        rows = 0
        while self.queue and (not taken or rows < max_rows):
            item = self.queue.pop(0)
            taken.append(item)
            rows += len(item.rows) if isinstance(item, OutgoingEvent) else 0
        return taken

    def is_current(self, item: OutgoingEvent | Signal) -> bool:
        return item.tenure is None or item.tenure not in self.ended_tenures

    def session_changed(self, session: SessionInfo | None) -> None:
        self.sessions.append(session)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def error(self, message: str) -> None:
        self.errors.append(message)


MakeSyncContext = Callable[..., FakeSyncContext]
"""The ``sync_context`` fixture: ``sync_context(source, batch_size=2, signal_answers=...)``."""

MakeFakeSource = Callable[..., FakeSource]
"""The ``fake_source`` fixture: ``fake_source(snapshot=[...], files={...})``."""

__all__ = [
    "CompletedScan",
    "FakePipeSettings",
    "FakePusherLink",
    "FakeSource",
    "FakeSyncContext",
    "MakeFakeSource",
    "MakeSyncContext",
    "ReadyCall",
    "SourceCall",
]

"""What an agent plugin implements and what it is given: sources, pushers and sync modes.

Three plugin families meet inside the agent (docs/architecture.md, "Agent")::

    Source ──rows──▶ SyncMode ──OutgoingEvent / Signal──▶ event bus ──▶ Pusher ──HTTP──▶ Fusion

* a :class:`Source` reads one tree: a realtime stream, a snapshot walk, an audit walk that skips
  unchanged directories, and a re-check of given paths. Its methods are **blocking** (plain
  file-system calls) and are run in worker threads by the agent; a source never talks to Fusion.
  Both scans are *listings*: Fusion deletes, at the end of each, what a fully listed directory
  no longer holds (see :meth:`Source.audit` for the rows that say so).
* a :class:`SyncMode` is a policy (realtime, snapshot, audit, sentinel): it drives the source
  through the :class:`SyncContext` it is given. Leader-only modes run only while this agent
  leads its datastore.
* a :class:`Pusher` owns the session with Fusion: it takes items off the bus (through a
  :class:`PusherLink`), batches and sends them, heart-beats, and reports its session and role.

Plugins register factories with the hooks ``fustor_source_drivers``, ``fustor_pusher_drivers``
and ``fustor_sync_modes`` (see :mod:`fustor_core.hookspecs`). This module holds only contracts
and small value types (and one cache helper); it is what a plugin author reads.

Rows travel as plain dicts with the keys of :class:`fustor_core.event_model.Row` (``path``,
``is_dir``, ``size``, ``mtime``, ``parent_path``, ``parent_mtime``, ``audit_skipped``,
``local_write``; omitted keys take the model's defaults): the agent never builds pydantic models
per row, Fusion validates them.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, TypeVar

from pydantic import BaseModel

RowDict = dict[str, Any]
"""One row as sent to Fusion: the keys of :class:`~fustor_core.event_model.Row`."""

Role = Literal["leader", "follower"]

SIGNALS = ("snapshot/start", "snapshot/end", "audit/start", "audit/end")
"""Lifecycle signals a leader frames its scans with, in Fusion's route spelling."""

T = TypeVar("T")


def now_ms() -> int:
    """The agent's physical observation time, as ``Event.index`` wants it."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class OutgoingEvent:
    """One event on its way to Fusion: rows of one ``message_source`` and ``event_type``.

    ``tenure`` is set by the agent for events of leader-only modes: a pusher must not send an
    event whose tenure is over (the scan it belongs to was cancelled when leadership or the
    session was lost), see :meth:`PusherLink.is_current`. Realtime events have no tenure and
    are always delivered.
    """

    message_source: Literal["realtime", "snapshot", "audit"]
    event_type: Literal["insert", "update", "delete"]
    rows: list[RowDict]
    index: int = field(default_factory=now_ms)
    tenure: int | None = None

    def as_json_obj(self) -> dict[str, Any]:
        """The event as Fusion's ``Event`` JSON object (ready for orjson/json)."""
        return {
            "message_source": self.message_source,
            "event_type": self.event_type,
            "index": self.index,
            "rows": self.rows,
        }


@dataclass(slots=True, eq=False)
class Signal:
    """A lifecycle signal (one of :data:`SIGNALS`) ordered in the stream with the events.

    The pusher sends it only after every event queued before it was acknowledged, then resolves
    ``done`` (with an exception if Fusion refused it or its tenure ended), so a sync mode can
    ``await`` that, e.g., ``audit/end`` really followed its last audit row.
    """

    name: str
    tenure: int | None = None
    done: asyncio.Future[dict[str, Any]] | None = None


StreamItem = OutgoingEvent | Signal


@dataclass(frozen=True, slots=True)
class EventsLost:
    """Yielded by :meth:`Source.watch` among its events: realtime may have missed changes below
    ``paths`` (``("/",)`` for the whole tree).

    ``reason`` says why: ``overflow`` (the kernel's event queue overflowed), ``watch_lost`` (a
    directory's watch went away although the directory did not), ``unwatched`` (a new directory
    could not be watched), ``realtime_restarted`` (the stream was down for a while). The
    realtime mode hands it to :meth:`SyncContext.request_relisting`: on the leader the next audit
    lists those subtrees in full, so what went meanwhile is deleted from Fusion's view too.
    """

    paths: tuple[str, ...]
    reason: str


RealtimeItem = OutgoingEvent | EventsLost
"""What :meth:`Source.watch` yields lists of."""


class LeaderTask(TypedDict):
    """A task Fusion hands the leader: ``{"id", "kind": "relist", "path"}`` — re-list ``path``
    now (see :meth:`Source.relist`) because a ``fresh=true`` query waits for it."""

    id: str
    kind: str
    path: str


class SentinelCheck(TypedDict, total=False):
    """The current state of one path the sentinel re-checked (``mtime``/``size`` when it exists)."""

    path: str
    exists: bool
    mtime: float
    size: int


DirCache = MutableMapping[str, Any]
"""A source's per-directory memory for audits, keyed by directory path (the value is the
source's: its mtime and whatever lets it skip the directory next time).

A source records only directories it listed *completely*; dropping an entry (see
:func:`forget_listings`) makes the next audit list that directory in full. The agent hands the
same mapping to every scan of a leader tenure. When a scan ended and Fusion acknowledged its end
signal, the cache says what Fusion's view holds: the mode reports it
(:meth:`SyncContext.scan_completed`) and the agent saves it under ``$FUSTOR_HOME`` with the id of
that view. A tenure that resumes the same view (see :class:`TenureStart`) starts from the last
saved cache — never from one a cancelled scan left half-updated — so an agent restart or a Fusion
restart costs an audit, not a snapshot.

Because the agent saves it, a value must be built of JSON types (str, int, float, bool, None,
lists; a tuple comes back as a list) and is replaced, never changed in place (the agent saves a
shallow copy while the next scan may run).
"""


def forget_listings(cache: DirCache, paths: Iterable[str]) -> int:
    """Drop the cache entries of the directories at or below ``paths``; returns how many.

    Call it only while no scan runs (the audit mode holds the scan lock when it does).
    """
    roots = set(paths)
    if "/" in roots:
        dropped = len(cache)
        cache.clear()
        return dropped
    prefixes = tuple(root + "/" for root in roots)
    doomed = [path for path in list(cache) if path in roots or path.startswith(prefixes)]
    for path in doomed:
        cache.pop(path, None)
    return len(doomed)


# --------------------------------------------------------------------------------------------
# sources
# --------------------------------------------------------------------------------------------


class Source(Protocol):
    """One watched tree. Every method is blocking and may be called from a worker thread.

    Paths in rows are relative to the watched root and start with '/'. A source must never
    write inside the tree. ``stop`` is set when the caller no longer wants results; long walks
    check it between directories and return early.
    """

    uri: str
    """Identifies the tree to Fusion as the session's ``source_uri`` (e.g. ``fs:///mnt/export``)."""

    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int
    ) -> Iterator[list[RealtimeItem]]:
        """Realtime: yield realtime events (at most ``batch_size`` rows each) until ``stop`` is set.

        Call ``ready()`` once changes are being captured, so the agent can start the snapshot
        knowing nothing that happens from then on is missed. When ``stop`` is set, yield what
        was already observed (a clean shutdown delivers it) and end. When changes may have been
        missed (event queue overflow, a lost watch), yield an :class:`EventsLost` in the stream.

        A file row sets ``local_write: true`` only when it reports a write made on this host (a
        regular file created, modified, or closed after writing); rows of files moved in, rows
        found by walking a directory that appeared, and directory rows do not.
        """
        ...

    def snapshot(
        self, stop: threading.Event, batch_size: int, dir_cache: DirCache
    ) -> Iterator[list[RowDict]]:
        """List the whole tree once, yielding rows in batches of about ``batch_size``.

        Rows are shaped as the audit's (below) with every directory listed: Fusion treats a
        finished snapshot as a complete listing. The source records what an audit needs in
        ``dir_cache`` for the directories it listed completely.
        """
        ...

    def audit(
        self,
        stop: threading.Event,
        batch_size: int,
        dir_cache: DirCache,
        deep: Callable[[str], bool] | None = None,
    ) -> Iterator[list[RowDict]]:
        """Walk the tree for an audit: every row carries ``parent_path``/``parent_mtime``.

        A directory whose mtime is unchanged since ``dir_cache`` saw it is sent once with
        ``audit_skipped: true`` and its files are not listed; its subdirectories are still
        visited — unless ``deep(path)`` is true: then it is listed and every entry re-stat'ed
        anyway (that is how a file rewritten in place, which changes no directory's mtime, is
        found). A listed directory is sent first (its own row, its parent's path and mtime; the
        root's are null), then a row per entry whose ``parent_path``/``parent_mtime`` are the
        listed directory's. Fusion counts a directory as *fully listed* when its row came without
        ``audit_skipped``: if listing it failed, or stat'ing any entry failed with anything but
        ENOENT, send it (again) with ``audit_skipped: true`` and keep it out of ``dir_cache``, so
        the next audit tries again. A directory the walk never reached simply has no row.
        """
        ...

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        """Sentinel: the current existence, mtime and size of each path.

        A path whose stat fails with anything but ENOENT/ENOTDIR is left out: it is not known
        to be gone (count the failure in :meth:`stat_errors`).
        """
        ...

    def counters(self) -> dict[str, int]:
        """Monotonic counters for the agent's status (entries scanned, skipped names, ...)."""
        ...

    def stat_errors(self) -> dict[str, int]:
        """Failed stats and listings so far, by reason (``{"EIO": 3, "ESTALE": 1}``)."""
        ...

    def close(self) -> None:
        """Release watchers and other resources."""
        ...


class RelistingSource(Source, Protocol):
    """A source that can also re-list one path on demand (optional: the ``fresh`` mode checks for
    :meth:`relist` and, without it, does not take relist requests)."""

    def relist(
        self, stop: threading.Event, batch_size: int, dir_cache: DirCache, path: str
    ) -> Iterator[list[RowDict]]:
        """Re-list ``path`` now, for a ``fresh=true`` query: rows shaped as the audit's, with no
        mtime skip — ``path`` and every directory below it listed, every file stat'ed. When
        ``path`` is not a directory (a file, or gone), its nearest existing ancestor is listed
        instead, *not* recursively: its subdirectories are sent as ``audit_skipped`` rows, so
        Fusion keeps them while it removes what the listed directory no longer holds. Update
        ``dir_cache`` for the directories listed, as the audit does; leave the rest alone.
        """
        ...


# --------------------------------------------------------------------------------------------
# sync modes
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TenureStart:
    """How a leader tenure begins, decided by the agent when it becomes leader.

    ``snapshot``: Fusion's view is new to this agent, or lost (another view id, no saved
    directory cache, a cache that does not fit: another source, records Fusion lost since the
    cache was saved, a clock that went back). The snapshot mode walks the whole tree; the
    audit's cache starts empty and is seeded by it.

    ``audit``: Fusion holds the very view this agent's saved directory cache describes (the same
    view id: it survived a Fusion restart in its journal, or simply lived on while the session
    was renewed), so only what changed since must be found. The snapshot mode stands aside (it
    still runs on request) and the audit mode runs at once, from that cache: a directory whose
    mtime moved (an entry created, deleted or renamed while nobody watched) is listed, others
    are skipped. A file rewritten in place changes no directory's mtime: the deep audit's
    rolling slices find it (its progress is kept with the cache, see
    :attr:`SyncContext.mode_state`).

    ``reason`` is a short code (``no_cache``, ``view_changed``, ``source_changed``,
    ``view_behind``, ``clock_went_back``, ``cache_unreadable``, ``view_unknown``, ``no_audit``,
    ``same_view``, ``view_restored``); ``detail`` says it in words, for the status and the log.
    """

    kind: Literal["snapshot", "audit"]
    reason: str
    detail: str = ""

    @property
    def resumes(self) -> bool:
        """True when the tenure resumes a known view with an audit."""
        return self.kind == "audit"


SNAPSHOT_START = TenureStart("snapshot", "no_cache", "no directory cache for this view")
"""The start of a tenure that knows nothing (the default of contexts made outside an agent)."""


class PipeSettings(Protocol):
    """The pipe's settings shared by its modes and its pusher (all from the agent config).

    A mode's own settings (an interval, a budget) are its options, given to its factory (see
    :data:`SyncModeFactory`), not pipe settings.
    """

    heartbeat_interval_s: float
    batch_size: int
    flush_interval_s: float
    bus_capacity: int


class SyncContext(Protocol):
    """What a sync mode is given for one pipe. One context per mode, created by the agent."""

    pipe: str
    datastore: str
    source: Source
    settings: PipeSettings

    @property
    def role(self) -> Role | None:
        """The pipe's current role (``None`` before the first session opened)."""
        ...

    @property
    def dir_cache(self) -> DirCache:
        """The audit cache of the current leader tenure (see :data:`DirCache`)."""
        ...

    @property
    def scan_lock(self) -> asyncio.Lock:
        """Held by whichever scan (snapshot, audit) walks the tree, so scans never overlap."""
        ...

    @property
    def tenure_start(self) -> TenureStart:
        """How the current leader tenure begins: with a snapshot, or resuming with an audit.

        The snapshot mode walks at once only for ``snapshot`` (and on request); the audit mode
        runs its first audit at once for ``audit`` instead of waiting its interval.
        """
        ...

    @property
    def mode_state(self) -> dict[str, Any]:
        """A small JSON-able dict of this mode's own, saved with the directory cache by
        :meth:`scan_completed` and handed back when a tenure resumes the same view (``{}`` when
        it starts with a snapshot). The audit keeps its deep-audit progress here, so a restart
        does not restart the deep cycle."""
        ...

    async def scan_completed(self) -> None:
        """Call after a scan's end signal was acknowledged (``await signal("audit/end")``
        returned), with the scan lock still held: ``dir_cache`` now says what Fusion's view
        holds. The agent keeps it as the state a later tenure of the same view resumes from and
        saves it (with every mode's :attr:`mode_state`) under ``$FUSTOR_HOME``, atomically. A
        failure to save is logged, never raised. A mode that never calls it only costs the next
        tenure a snapshot.
        """
        ...

    def ready(self) -> None:
        """Tell the agent this mode is running (thread-safe); later-ordered modes start after it."""
        ...

    async def publish(self, event: OutgoingEvent) -> None:
        """Queue an event for Fusion; waits while the bus is full (backpressure)."""
        ...

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        """Queue a lifecycle signal after everything published so far.

        With ``wait`` it returns Fusion's answer once the signal was applied, and raises
        :class:`~fustor_core.errors.FustorError` if Fusion refused it or the tenure ended.
        """
        ...

    async def pump(
        self,
        produce: Callable[[threading.Event], Iterable[T]],
        consume: Callable[[T], Awaitable[None]],
    ) -> None:
        """Run the blocking iterator ``produce(stop)`` in a worker thread and ``await consume(x)``
        in the event loop for each item; the worker waits while ``consume`` is pending, so
        backpressure reaches the source. Cancelling the caller sets ``stop``.
        """
        ...

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run one blocking call (e.g. :meth:`Source.recheck`) in a worker thread."""
        ...

    async def wait_for_trigger(self, timeout: float | None) -> bool:
        """Sleep until ``timeout`` passes (False) or a run is requested (True): through the agent
        API, or by the agent itself (:meth:`request_relisting` asks the audit to run)."""
        ...

    @property
    def requested(self) -> dict[str, Any]:
        """What the requests that woke the last :meth:`wait_for_trigger` asked for, merged
        (``{}`` after a timeout): ``{"deep": True}`` from the API's audit trigger, ``{"relist":
        [paths]}`` from :meth:`request_relisting`."""
        ...

    def request_relisting(self, paths: Sequence[str], reason: str) -> bool:
        """Realtime may have missed changes below ``paths`` (an :class:`EventsLost`).

        On the leader this asks the audit mode to run now, after forgetting what ``dir_cache``
        remembers of those subtrees, so the audit lists them in full and Fusion deletes what
        went meanwhile. Returns False when this agent does not lead (a follower cannot scan; the
        leader's audits cover its losses) or runs no audit.
        """
        ...

    def report(self, **fields: Any) -> None:
        """Publish this mode's progress in the agent status (e.g. ``state=``, ``files=``)."""
        ...

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        """Up to ``limit`` paths Fusion wants re-checked now, most urgent first (leader only)."""
        ...

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        """Send re-check results to Fusion; returns its answer."""
        ...

    async def leader_tasks(self, wait_s: float) -> list[LeaderTask]:
        """Long-poll Fusion's task channel (leader only): what ``fresh=true`` queries asked this
        agent to re-list, waiting up to ``wait_s`` for the first task (``[]`` then)."""
        ...

    async def task_done(self, task_id: str, report: dict[str, Any]) -> None:
        """Tell Fusion a task's listing is applied (call it after the listing's ``audit/end``
        was answered): the queries waiting for it answer now. ``report``: ``listed``,
        ``dirs_listed``, ``files``, ``took_s``, or ``error`` when it could not be done."""
        ...


class SyncMode(Protocol):
    """A policy that drives the source of one pipe. The factory registered with
    ``fustor_sync_modes`` is called once per pipe that runs the mode: with the validated
    instance of the options model registered beside it, or with no arguments when there is none.
    """

    name: str
    leader_only: bool
    """Leader-only modes start when the pipe becomes leader and are cancelled when it is not."""
    order: int
    """Start order: lower first. Each mode starts after the previous ones called ``ready()``."""
    triggerable: bool
    """True when an operator may run it now: ``POST /api/v1/pipes/{name}/{mode}`` and
    ``fustor-agent trigger MODE PIPE`` wake the mode's :meth:`SyncContext.wait_for_trigger`
    (leader-only modes: while this agent leads). A mode that never waits for a trigger says
    False (the API answers 404 for it). A triggerable mode may also set ``trigger_options``, a
    pydantic model of what a trigger may ask for (the JSON body of the POST, e.g. the audit's
    ``{"deep": true}``), which :attr:`SyncContext.requested` then holds; without it a trigger
    takes no options."""

    async def run(self, ctx: SyncContext) -> None:
        """Run until cancelled (or return when there is nothing more to do)."""
        ...


# --------------------------------------------------------------------------------------------
# pushers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """A session as Fusion granted it, and the view it feeds.

    ``view_id``/``view_seq``/``view_restored`` are the ``view`` of Fusion's session-open answer:
    which incarnation of the datastore's view Fusion holds (an id made when the view started
    empty, kept across Fusion restarts by its journal), the newest durable journal sequence
    number, and whether the view was reloaded from the journal. The agent decides from them how
    a leader tenure starts (:class:`TenureStart`). ``None`` when Fusion does not say: the tenure
    then starts with a snapshot.
    """

    session_id: str
    role: Role
    heartbeat_interval_s: float | None = None
    session_timeout_s: float | None = None
    view_id: str | None = None
    view_seq: int | None = None
    view_restored: bool = False


class PusherLink(Protocol):
    """What the agent gives a pusher: the stream to deliver and where to report."""

    agent_id: str
    source_uri: str
    settings: PipeSettings

    async def take(self, max_rows: int, linger_s: float = 0.0) -> list[StreamItem]:
        """The next items in order, about ``max_rows`` rows in all (never splitting an event).

        Waits for the first item; then takes what is queued, waiting up to ``linger_s`` for more
        while the batch is not full. Returns ``[]`` once the stream is closed and drained.
        """
        ...

    def is_current(self, item: StreamItem) -> bool:
        """False for a scan event or signal whose tenure ended: drop it (fail a signal)."""
        ...

    def session_changed(self, session: SessionInfo | None) -> None:
        """Report a new session, a role change, or (``None``) that there is no session."""
        ...

    def count(self, name: str, n: int = 1) -> None:
        """Add to a status counter (``rows_sent``, ``batches_sent``, ``retries``, ``rows_dropped``, ...)."""
        ...

    def error(self, message: str) -> None:
        """Record the last error for the status API."""
        ...


class Pusher(Protocol):
    """Delivers one pipe's stream to Fusion. Created by the factory registered with
    ``fustor_pusher_drivers`` from the pipe's pusher config.
    """

    async def run(self, link: PusherLink) -> None:
        """Open a session, heart-beat, deliver ``link.take()`` until it returns ``[]``, then
        close the session. Transient failures are retried (same batch, same sequence number);
        nothing is dropped silently. Cancelling it abandons the stream.
        """
        ...

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        """Paths Fusion wants re-checked (leader only)."""
        ...

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        """Send re-check results (leader only)."""
        ...


class TaskPusher(Pusher, Protocol):
    """A pusher that also carries Fusion's task channel for the leader (optional: without it the
    agent's ``fresh`` mode does not take relist requests)."""

    async def leader_tasks(self, wait_s: float) -> list[LeaderTask]:
        """Long-poll the leader's task channel (see :meth:`SyncContext.leader_tasks`)."""
        ...

    async def task_done(self, task_id: str, report: dict[str, Any]) -> None:
        """Report a task done (see :meth:`SyncContext.task_done`)."""
        ...


# --------------------------------------------------------------------------------------------
# factories: what the register-style hooks take
# --------------------------------------------------------------------------------------------

SourceFactory = Callable[[dict[str, Any]], Source]
"""Called with a pipe's ``source`` section (without ``driver``); validates it, returns the source."""

PusherFactory = Callable[[dict[str, Any]], Pusher]
"""Called with a pipe's ``pusher`` section (without ``driver``); validates it, returns the pusher."""

SyncModeFactory = Callable[[Any], SyncMode] | Callable[[], SyncMode]
"""Called once per pipe that runs the mode (a mode class itself is a factory): with the validated
options instance when an options model was registered with it, without arguments otherwise."""

RegisterSource = Callable[[str, SourceFactory], None]
"""The ``register`` callback of ``fustor_source_drivers``: ``register("fs", factory)``."""

RegisterPusher = Callable[[str, PusherFactory], None]
"""The ``register`` callback of ``fustor_pusher_drivers``: ``register("http", factory)``."""


class RegisterSyncMode(Protocol):
    """The ``register`` callback of ``fustor_sync_modes``:
    ``register("audit", AuditMode, options=AuditOptions)``.

    ``options`` is the mode's options model (a pydantic model, every field defaulted): a pipe
    configures it under ``modes: {audit: {...}}`` and the factory is called with the validated
    instance. Without it the factory is called with no arguments and configuring options for
    the mode is an error.
    """

    def __call__(
        self, name: str, factory: SyncModeFactory, *, options: type[BaseModel] | None = None
    ) -> None: ...


__all__ = [
    "SIGNALS",
    "SNAPSHOT_START",
    "DirCache",
    "EventsLost",
    "LeaderTask",
    "OutgoingEvent",
    "PipeSettings",
    "Pusher",
    "PusherFactory",
    "PusherLink",
    "RealtimeItem",
    "RegisterPusher",
    "RegisterSource",
    "RegisterSyncMode",
    "RelistingSource",
    "Role",
    "RowDict",
    "SentinelCheck",
    "SessionInfo",
    "Signal",
    "Source",
    "SourceFactory",
    "StreamItem",
    "SyncContext",
    "SyncMode",
    "SyncModeFactory",
    "TaskPusher",
    "TenureStart",
    "forget_listings",
    "now_ms",
]

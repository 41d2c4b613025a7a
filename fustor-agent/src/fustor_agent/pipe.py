"""One pipe: a source, its event bus, its sync modes and its pusher, and the leader tenure.

The pipe starts the pusher (which opens the session) and the modes that run everywhere
(realtime) first; each mode starts after the previous one said it is ready, so the realtime
watch is in place before anything scans. Leader-only modes (snapshot, audit, sentinel) run in a
*tenure*: it begins when the pusher reports ``leader`` for a session (at start, or mid-run when
a failover hands the lock to this agent) and ends when leadership or the session is lost — the
modes are cancelled, and whatever they queued but was not sent yet is dropped by the pusher
(see :meth:`Link.is_current`). A new session as leader is a new tenure.

A tenure starts with a snapshot or, when Fusion still holds the view this agent synced, resumes
with an audit (:mod:`fustor_agent.resume` decides, from the session's ``view`` and the directory
cache saved after the last complete scan; :class:`~fustor_core.agent_api.TenureStart` is what the
modes are told). The cache is saved under ``$FUSTOR_HOME`` each time a scan completes
(:mod:`fustor_agent.dircache_file`) and loaded when a tenure starts, so an agent restart resumes
too — and a tenure never starts from a cache a cancelled scan left half-updated.

When realtime reports that it may have missed changes (a queue overflow, a lost watch), the
leader has its audit mode run at once, told to forget what its directory cache remembers of the
affected subtrees, so the audit lists them in full and Fusion deletes what went meanwhile. A
follower cannot scan: its losses are covered by the leader's audits (a create, delete or rename
changes the directory's mtime, which the next audit sees; an in-place rewrite, by the deep audit).
"""

from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fustor_agent.bus import EventBus, Subscription
from fustor_agent.config import PipeConfig
from fustor_agent.context import ModeContext, TenureEnded, merge_request
from fustor_agent.dircache_file import CacheUnreadable, DirCacheFile, FileReport, SavedListing
from fustor_agent.resume import decide_start
from fustor_agent.snapshot_progress import SnapshotFigures, SnapshotHistory, snapshot_figures
from fustor_core.agent_api import (
    PipeSettings,
    Pusher,
    SessionInfo,
    Source,
    StreamItem,
    SyncMode,
    TenureStart,
)
from fustor_core.errors import Conflict, NotFound
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

RESTART_BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
RELISTING_MODE = "audit"
"""The leader mode asked to list what realtime may have missed."""
RESUMING_MODE = "audit"
"""The leader mode a tenure resumes with; without it every tenure starts with a snapshot."""
READY_WARNING_S = 30.0
GRACEFUL_STOP_S = 2.0
"""On shutdown: how long the always-running modes get to flush before they are cancelled."""


class Link:
    """What the pusher sees of its pipe (:class:`fustor_core.agent_api.PusherLink`)."""

    def __init__(self, pipe: Pipe, subscription: Subscription, agent_id: str) -> None:
        self._pipe = pipe
        self._subscription = subscription
        self.agent_id = agent_id
        self.source_uri = pipe.source.uri
        self.settings: PipeSettings = pipe.config

    async def take(self, max_rows: int, linger_s: float = 0.0) -> list[StreamItem]:
        return await self._subscription.take(max_rows, linger_s)

    def is_current(self, item: StreamItem) -> bool:
        return item.tenure is None or item.tenure == self._pipe.current_tenure

    def session_changed(self, session: SessionInfo | None) -> None:
        self._pipe.session_changed(session)

    def count(self, name: str, n: int = 1) -> None:
        self._pipe.count(name, n)

    def error(self, message: str) -> None:
        self._pipe.record_error(message)


class Pipe:
    """Runs one pipe until asked to stop."""

    def __init__(
        self,
        config: PipeConfig,
        *,
        agent_id: str,
        source: Source,
        pusher: Pusher,
        modes: list[SyncMode],
        cache_file: DirCacheFile | None = None,
        history: SnapshotHistory | None = None,
    ) -> None:
        """:param history: where the last complete snapshot's entry count is kept (the next
        snapshot's ETA); by default in memory only."""
        self.config = config
        self.history = history if history is not None else SnapshotHistory(None)
        self._recorded_snapshot_runs = 0
        self.name = config.pipe_name
        self.agent_id = agent_id
        self.source = source
        self.pusher = pusher
        self.modes = sorted(modes, key=lambda mode: (mode.order, mode.name))
        self.bus = EventBus(config.bus_capacity)
        self.session: SessionInfo | None = None
        self.current_tenure: int | None = None
        self._tenures = 0
        self._leader_session: str | None = None
        self.dir_cache: dict[str, Any] = {}
        self.cache_file = cache_file
        """Where the directory cache is saved (None: nowhere, every tenure starts with a snapshot)."""
        self.mode_states: dict[str, dict[str, Any]] = {}
        """The current tenure's :attr:`~fustor_core.agent_api.SyncContext.mode_state` by mode."""
        self.tenure_start: TenureStart | None = None
        """How the current tenure started (None until it is decided)."""
        self._tenure_session: SessionInfo | None = None
        self._tenure_started_at: float | None = None
        self._end_view_seq: int | None = None
        """Fusion's view seq in the last scan-end answer of this tenure."""
        self._cache_status: dict[str, Any] = {"file": str(cache_file.path) if cache_file else None}
        self.scan_lock = asyncio.Lock()
        self.counters: Counter[str] = Counter()
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.started_at = time.time()
        self.contexts: dict[str, ModeContext] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._always_ready = False
        self._retiring: set[asyncio.Task[None]] = set()
        self._progress: dict[str, dict[str, Any]] = {}
        self._requests: dict[str, dict[str, Any]] = {}
        """Run requests for leader modes of this tenure that have not started yet."""
        self._subscription = self.bus.subscribe("pusher")
        self._link = Link(self, self._subscription, agent_id)

    # -- counters and errors ---------------------------------------------------------------

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def snapshot_reported(self, progress: dict[str, Any]) -> None:
        """The snapshot mode reported progress: once a run completed, remember how many entries
        it walked (the next run's ETA)."""
        runs = progress.get("runs")
        if (
            progress.get("state") != "idle"
            or not isinstance(runs, int)
            or runs == self._recorded_snapshot_runs
        ):
            return
        self._recorded_snapshot_runs = runs
        walked = progress.get("files", 0) + progress.get("dirs", 0)
        if isinstance(walked, int) and walked > 0:
            self.history.record(self.name, walked)

    def snapshot_progress(self) -> SnapshotFigures | None:
        """The running snapshot's figures (None when none runs)."""
        return snapshot_figures(self._progress.get("snapshot") or {}, self.history.expected(self.name))

    def record_error(self, message: str) -> None:
        self.last_error = message
        self.last_error_at = time.time()

    # -- roles and tenures -----------------------------------------------------------------

    @property
    def role(self) -> str | None:
        return self.session.role if self.session is not None else None

    def session_changed(self, session: SessionInfo | None) -> None:
        """The pusher's report: a new session, a role change, or no session at all."""
        previous = self.session
        self.session = session
        if previous != session:
            log_event(
                logger,
                logging.INFO,
                "session changed",
                pipe=self.name,
                session=session.session_id if session else None,
                role=session.role if session else None,
            )
        self._apply_role()

    def _apply_role(self) -> None:
        if not self._always_ready:
            return  # leader modes wait until realtime is watching
        session = self.session
        leader_session = session.session_id if session is not None and session.role == "leader" else None
        if leader_session == self._leader_session:
            return
        self._leader_session = leader_session
        self._end_tenure()
        if leader_session is not None:
            self._start_tenure()

    def _start_tenure(self) -> None:
        self._tenures += 1
        self.current_tenure = self._tenures
        self.dir_cache = {}
        self.mode_states = {}
        self.tenure_start = None
        self._tenure_session = self.session
        self._tenure_started_at = time.time()
        self._end_view_seq = None
        self._requests.clear()  # requests of an earlier tenure: this one scans anyway
        self.count("tenures")
        log_event(
            logger, logging.INFO, "leading: starting leader modes", pipe=self.name, tenure=self.current_tenure
        )
        assert self.session is not None
        self._tasks["leader"] = asyncio.create_task(
            self._lead(self.current_tenure, self.session), name=f"{self.name}:leader"
        )

    async def _lead(self, tenure: int, session: SessionInfo) -> None:
        """Decide how this tenure starts (loading the saved cache), then start the leader modes;
        a resumed tenure starts from the saved cache and mode states."""
        start, saved = await self._decide_start(session)
        if tenure != self.current_tenure:
            return
        if start.resumes and saved is not None:
            self.dir_cache = saved.entries
            self.mode_states = saved.modes
        self.tenure_start = start
        self.count(f"tenures_started_with_{start.kind}")
        leader_modes = [mode for mode in self.modes if mode.leader_only]
        log_event(
            logger,
            logging.INFO,
            f"leader tenure starts with {'an audit' if start.resumes else 'a snapshot'}",
            pipe=self.name,
            tenure=tenure,
            reason=start.reason,
            detail=start.detail,
        )
        await self._start_in_order(leader_modes, tenure, leader=True)

    async def _decide_start(self, session: SessionInfo) -> tuple[TenureStart, SavedListing | None]:
        """Load the saved directory cache and decide between resuming (audit) and a snapshot.
        Nothing about the file can stop the tenure: whatever fails is logged and means a snapshot."""
        audits = any(mode.leader_only and mode.name == RESUMING_MODE for mode in self.modes)
        saved: SavedListing | None = None
        unreadable: str | None = None
        if audits and session.view_id is not None and self.cache_file is not None:
            try:
                loaded = await asyncio.to_thread(self.cache_file.load)
            except Exception as exc:  # CacheUnreadable, or anything a damaged file may provoke
                unreadable = str(exc) if isinstance(exc, CacheUnreadable) else repr(exc)
                self._cache_status["error"] = unreadable
                log_event(
                    logger,
                    logging.WARNING,
                    "directory cache unusable; this tenure starts with a snapshot",
                    pipe=self.name,
                    file=str(self.cache_file.path),
                    error=unreadable,
                )
            else:
                if loaded is not None:
                    saved, report = loaded
                    self._cache_status.update(saved.header())
                    self._cache_status["last_load"] = _report(report)
        start = decide_start(
            saved, session, source_uri=self.source.uri, now=time.time(), audits=audits, unreadable=unreadable
        )
        return start, saved

    async def scan_completed(self, mode_name: str) -> None:
        """A scan's end was acknowledged: save the directory cache as the view's listing."""
        session = self._tenure_session
        if self.cache_file is None or session is None or session.view_id is None:
            return
        listing = SavedListing(
            view_id=session.view_id,
            view_seq=self._end_view_seq if self._end_view_seq is not None else session.view_seq,
            source_uri=self.source.uri,
            saved_at=time.time(),
            entries=dict(self.dir_cache),  # a shallow copy: values are replaced, never changed
            modes=copy.deepcopy(self.mode_states),
            scan=mode_name,
        )
        try:
            report = await asyncio.to_thread(self.cache_file.save, listing)
        except Exception as exc:  # a cache not saved costs the next tenure a snapshot, no more
            self.count("dir_cache_save_errors")
            self._cache_status["error"] = f"save failed: {exc!r}"
            log_event(
                logger,
                logging.WARNING,
                "directory cache not saved; the next tenure will start with a snapshot",
                pipe=self.name,
                file=str(self.cache_file.path),
                error=repr(exc),
            )
            return
        self._cache_status.update(listing.header())
        self._cache_status["last_save"] = _report(report)
        self._cache_status["bytes"] = report.bytes
        self._cache_status.pop("error", None)

    def view_seen(self, view: Any) -> None:
        """Fusion's ``view`` in a signal's answer: remember its seq for the next save."""
        session = self._tenure_session
        if not isinstance(view, dict) or session is None or view.get("id") != session.view_id:
            return
        seq = view.get("seq")
        if isinstance(seq, int) and not isinstance(seq, bool):
            self._end_view_seq = max(seq, self._end_view_seq or 0)

    async def _describe_saved_cache(self) -> None:
        """At start: say in the status and the log which cache is there (its header only)."""
        if self.cache_file is None:
            return
        try:
            header = await asyncio.to_thread(self.cache_file.header)
            size = self.cache_file.path.stat().st_size if header is not None else None
        except Exception as exc:  # CacheUnreadable, OSError, or anything a damaged file provokes
            self._cache_status["error"] = str(exc)
            log_event(
                logger,
                logging.WARNING,
                "directory cache unusable; the first tenure will start with a snapshot",
                pipe=self.name,
                file=str(self.cache_file.path),
                error=str(exc),
            )
            return
        if header is None:
            return
        for key in ("view_id", "view_seq", "source_uri", "saved_at", "scan", "entries"):
            self._cache_status[key] = header.get(key)
        self._cache_status["bytes"] = size
        log_event(
            logger,
            logging.INFO,
            "directory cache found",
            pipe=self.name,
            file=str(self.cache_file.path),
            view=header.get("view_id"),
            entries=header.get("entries"),
            bytes=size,
        )

    def _end_tenure(self) -> None:
        if self.current_tenure is None:
            return
        log_event(
            logger,
            logging.INFO,
            "not leading: stopping leader modes",
            pipe=self.name,
            tenure=self.current_tenure,
        )
        self.current_tenure = None
        task = self._tasks.pop("leader", None)
        if task is not None:
            task.cancel()
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    def not_started(self) -> str | None:
        """Why the pipe is not yet doing its job (for the service manager's READY=1), or None:
        realtime must be watching and a session held, and a leader's leader modes must have
        started (the tenure's snapshot, or the audit that resumes from the saved cache)."""
        if not self._always_ready:
            return f"{self.name}: starting realtime"
        session = self.session
        if session is None:
            return f"{self.name}: opening a session with Fusion"
        if session.role != "leader":
            return None
        for mode in self.modes:
            if not mode.leader_only:
                continue
            context = self.contexts.get(mode.name)
            if context is None or context.tenure != self.current_tenure or not context.is_ready:
                return f"{self.name}: starting the {mode.name}"
        return None

    # -- modes -----------------------------------------------------------------------------

    async def _start_in_order(self, modes: list[SyncMode], tenure: int | None, *, leader: bool) -> None:
        """Start each mode after the previous one is ready; then wait for them all.

        Once the always-running modes (realtime) are all ready, leader modes may start.
        """
        tasks: list[asyncio.Task[None]] = []
        try:
            for mode in modes:
                progress = self._progress.setdefault(mode.name, {"state": "idle"})
                context = ModeContext(self, mode, progress)
                context.tenure = tenure
                self.contexts[mode.name] = context
                if leader and tenure == self.current_tenure and mode.name in self._requests:
                    context.trigger(self._requests.pop(mode.name))
                task = asyncio.create_task(self._supervise(mode, context), name=f"{self.name}:{mode.name}")
                tasks.append(task)
                await self._wait_ready(mode, context, task)
            if not leader:
                self._always_ready = True
                self._apply_role()
            if tasks:
                await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)

    async def _wait_ready(self, mode: SyncMode, context: ModeContext, task: asyncio.Task[None]) -> None:
        ready = asyncio.ensure_future(context.wait_ready())
        try:
            while True:
                done, _ = await asyncio.wait(
                    {ready, task}, timeout=READY_WARNING_S, return_when="FIRST_COMPLETED"
                )
                if done:
                    return
                log_event(
                    logger,
                    logging.WARNING,
                    "still waiting for a mode to be ready",
                    pipe=self.name,
                    mode=mode.name,
                )
        finally:
            ready.cancel()

    async def _supervise(self, mode: SyncMode, context: ModeContext) -> None:
        """Run a mode; restart it with a growing delay if it fails."""
        failures = 0
        while True:
            context.report(state="running")
            try:
                await mode.run(context)
            except asyncio.CancelledError:
                context.report(state="stopped")
                raise
            except TenureEnded:  # leadership went away mid-run; the pipe is cancelling us anyway
                context.report(state="stopped")
                return
            except Exception as exc:
                failures += 1
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S)) - 1]
                message = f"{mode.name}: {exc}"
                self.record_error(message)
                context.report(state="failed", error=str(exc))
                context.ready()  # a failed mode must not hold back the modes after it
                log_event(
                    logger,
                    logging.ERROR if failures == 1 else logging.WARNING,
                    "sync mode failed; restarting",
                    pipe=self.name,
                    mode=mode.name,
                    error=repr(exc),
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
                continue
            context.report(state="done")
            context.ready()
            return

    def triggerable(self) -> list[str]:
        """The modes of this pipe an operator may run now (each says so: ``triggerable``)."""
        return [mode.name for mode in self.modes if getattr(mode, "triggerable", False)]

    def triggerable_mode(self, mode_name: str) -> SyncMode:
        """The mode ``mode_name`` of this pipe; NotFound unless the pipe runs it and it is triggerable."""
        mode = next((mode for mode in self.modes if mode.name == mode_name), None)
        if mode is None or not getattr(mode, "triggerable", False):
            choices = ", ".join(self.triggerable()) or "none"
            why = "runs no mode" if mode is None else "cannot trigger the mode"
            raise NotFound(f"pipe {self.name!r} {why} {mode_name!r} (triggerable: {choices})")
        return mode

    def trigger(self, mode_name: str, options: dict[str, Any] | None = None) -> None:
        """Run a triggerable mode now (the agent API).

        NotFound unless this pipe runs the mode and the mode is triggerable; Conflict for a
        leader-only mode while this agent does not lead (or before the mode started).
        """
        mode = self.triggerable_mode(mode_name)
        if mode.leader_only and self.current_tenure is None:
            raise Conflict(f"pipe {self.name!r} is not leader (role: {self.role or 'no session'})")
        context = self.contexts.get(mode_name)
        if context is None or (mode.leader_only and context.tenure != self.current_tenure):
            raise Conflict(f"the {mode_name!r} mode of pipe {self.name!r} has not started yet")
        context.trigger(options)

    def request_relisting(self, paths: Sequence[str], reason: str) -> bool:
        """Realtime may have missed changes below ``paths``: on the leader, the audit runs now
        and lists those subtrees in full. False on a follower (the leader's audits cover it)."""
        self.count(f"events_lost_{reason}")
        if self.current_tenure is None:
            log_event(
                logger,
                logging.INFO,
                "realtime may have missed changes; not leading, the leader's audits cover them",
                pipe=self.name,
                reason=reason,
                paths=list(paths[:5]),
            )
            return False
        modes = {mode.name for mode in self.modes if mode.leader_only}
        if RELISTING_MODE not in modes:
            log_event(
                logger,
                logging.WARNING,
                "realtime may have missed changes and no audit runs to list them again",
                pipe=self.name,
                reason=reason,
            )
            return False
        options = {"relist": list(paths)}
        context = self.contexts.get(RELISTING_MODE)
        if context is not None and context.tenure == self.current_tenure:
            context.trigger(options)
        else:  # the audit has not started yet in this tenure: it takes the request when it does
            merge_request(self._requests.setdefault(RELISTING_MODE, {}), options)
        self.count("relistings_requested")
        log_event(
            logger,
            logging.INFO,
            "realtime may have missed changes; auditing them now",
            pipe=self.name,
            reason=reason,
            paths=list(paths[:5]),
        )
        return True

    # -- the whole pipe --------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, shutdown_timeout_s: float) -> None:
        """Run until ``stop`` is set; then stop the modes, deliver what is queued, close."""
        await self._describe_saved_cache()
        pusher_task = asyncio.create_task(self._run_pusher(), name=f"{self.name}:pusher")
        always = [mode for mode in self.modes if not mode.leader_only]
        self._tasks["always"] = asyncio.create_task(
            self._start_in_order(always, None, leader=False), name=f"{self.name}:always"
        )
        try:
            await stop.wait()
        finally:
            await self._shutdown(pusher_task, shutdown_timeout_s)

    async def _run_pusher(self) -> None:
        failures = 0
        while True:
            try:
                await self.pusher.run(self._link)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S)) - 1]
                self.record_error(f"pusher: {exc}")
                log_event(logger, logging.ERROR, "pusher failed; restarting", pipe=self.name, error=repr(exc))
                await asyncio.sleep(delay)

    async def _shutdown(self, pusher_task: asyncio.Task[None], timeout_s: float) -> None:
        self._end_tenure()  # scans are abandoned: the next leader scans anyway
        always = self._tasks.get("always")
        if always is not None:  # realtime finishes gracefully: what the kernel queued is sent
            for context in self.contexts.values():
                if not context.mode.leader_only:
                    context.request_stop()
            await asyncio.wait({always}, timeout=GRACEFUL_STOP_S)
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), *self._retiring, return_exceptions=True)
        self._tasks.clear()
        await self.bus.close()
        try:
            await asyncio.wait_for(asyncio.shield(pusher_task), timeout_s)
        except TimeoutError:
            log_event(
                logger,
                logging.WARNING,
                "shutdown: rows still queued were not delivered in time",
                pipe=self.name,
                queued_rows=self.bus.depth,
            )
            pusher_task.cancel()
            await asyncio.gather(pusher_task, return_exceptions=True)
        except Exception as exc:
            log_event(logger, logging.ERROR, "shutdown: pusher failed", pipe=self.name, error=repr(exc))
        self.source.close()

    # -- status ----------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Everything an operator asks first, as plain JSON."""
        session = self.session
        return {
            "name": self.name,
            "datastore": self.config.datastore,
            "role": session.role if session else None,
            "session_id": session.session_id if session else None,
            "leader_tenure": self.current_tenure,
            "triggerable": self.triggerable(),
            "tenure": self._tenure_status(),
            "dir_cache": self._dir_cache_status(),
            "source": {"uri": self.source.uri, "counters": self.source.counters()},
            "stat_errors": self.source.stat_errors(),
            "bus": {
                "depth": self.bus.depth,
                "capacity": self.bus.capacity,
                "peak": self.bus.peak_rows,
                "published_rows": self.bus.published_rows,
                "producer_waits": self.bus.producer_waits,
                "producer_wait_s": round(self.bus.producer_wait_s, 3),
            },
            "counters": dict(self.counters),
            "modes": {name: dict(context.progress) for name, context in self.contexts.items()},
            "snapshot_progress": figures.as_dict() if (figures := self.snapshot_progress()) else None,
            "last_snapshot_entries": self.history.expected(self.name),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at,
        }

    def _tenure_status(self) -> dict[str, Any] | None:
        """How the current (or last) leader tenure started."""
        start = self.tenure_start
        if start is None:
            return None
        return {
            "id": self._tenures,
            "current": self.current_tenure is not None,
            "started_at": self._tenure_started_at,
            "started_with": start.kind,
            "reason": start.reason,
            "detail": start.detail,
        }

    def _dir_cache_status(self) -> dict[str, Any]:
        """The working cache's size and the saved one's: file, view, age, bytes, save/load cost."""
        status = dict(self._cache_status)
        status["entries_in_memory"] = len(self.dir_cache)
        saved_at = status.get("saved_at")
        status["age_s"] = round(time.time() - saved_at, 1) if isinstance(saved_at, int | float) else None
        return status


def _report(report: FileReport) -> dict[str, Any]:
    return {
        "at": time.time(),
        "seconds": round(report.seconds, 4),
        "bytes": report.bytes,
        "entries": report.entries,
    }

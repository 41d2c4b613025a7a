"""The :class:`~fustor_core.agent_api.SyncContext` one sync mode of one pipe is given."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from fustor_agent.pump import pump
from fustor_core.agent_api import (
    SNAPSHOT_START,
    DirCache,
    LeaderTask,
    OutgoingEvent,
    PipeSettings,
    Role,
    SentinelCheck,
    Signal,
    Source,
    SyncMode,
    TenureStart,
)
from fustor_core.errors import Conflict

if TYPE_CHECKING:
    from fustor_agent.pipe import Pipe

T = TypeVar("T")


class TenureEnded(Conflict):
    """A leader-only mode tried to publish after this agent stopped leading (or lost its session)."""

    code = "tenure_ended"


class ModeContext:
    """Binds one sync mode to its pipe: publishing, signals, triggers, progress."""

    def __init__(self, pipe: Pipe, mode: SyncMode, progress: dict[str, Any]) -> None:
        self._pipe = pipe
        self.mode = mode
        self.pipe = pipe.name
        self.datastore = pipe.config.datastore
        self.source: Source = pipe.source
        self.settings: PipeSettings = pipe.config
        self.progress = progress
        """Kept by the pipe across tenures, so the status still shows the last run."""
        self._ready = asyncio.Event()
        self._trigger = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self.tenure: int | None = None
        """The leader tenure this context's mode runs in (leader-only modes)."""
        self._stops: set[threading.Event] = set()
        self._pending: dict[str, Any] = {}
        """Options of the requests not yet taken by :meth:`wait_for_trigger`."""
        self._requested: dict[str, Any] = {}

    # -- what the pipe reads -------------------------------------------------------------------

    @property
    def is_ready(self) -> bool:
        return self._ready.is_set()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    def trigger(self, options: dict[str, Any] | None = None) -> None:
        """Ask the mode to run now (the agent API's POST, or the agent itself), with options
        merged into those of requests still pending (see :func:`merge_request`)."""
        merge_request(self._pending, options or {})
        self._trigger.set()

    def request_stop(self) -> None:
        """Graceful stop: every running pump's iterator is told to finish (and flush) now."""
        for stop in list(self._stops):
            stop.set()

    # -- SyncContext -----------------------------------------------------------------------------

    @property
    def role(self) -> Role | None:
        session = self._pipe.session
        return session.role if session is not None else None

    @property
    def dir_cache(self) -> DirCache:
        return self._pipe.dir_cache

    @property
    def scan_lock(self) -> asyncio.Lock:
        return self._pipe.scan_lock

    @property
    def tenure_start(self) -> TenureStart:
        start = self._pipe.tenure_start
        if start is None or self.tenure is None or self.tenure != self._pipe.current_tenure:
            return SNAPSHOT_START
        return start

    @property
    def mode_state(self) -> dict[str, Any]:
        return self._pipe.mode_states.setdefault(self.mode.name, {})

    async def scan_completed(self) -> None:
        self._check_tenure()
        await self._pipe.scan_completed(self.mode.name)

    def ready(self) -> None:
        """Thread-safe: realtime calls it from its worker thread."""
        self._loop.call_soon_threadsafe(self._ready.set)

    def _check_tenure(self) -> int | None:
        if not self.mode.leader_only:
            return None
        if self.tenure is None or self.tenure != self._pipe.current_tenure:
            raise TenureEnded(f"{self.mode.name}: this agent no longer leads datastore {self.datastore!r}")
        return self.tenure

    async def publish(self, event: OutgoingEvent) -> None:
        event.tenure = self._check_tenure()
        await self._pipe.bus.publish(event)
        self._pipe.count(f"{event.message_source}_rows_read", len(event.rows))
        self._pipe.count(f"{event.message_source}_events_read")

    async def signal(self, name: str, *, wait: bool = True) -> dict[str, Any] | None:
        done: asyncio.Future[dict[str, Any]] = self._loop.create_future()
        signal = Signal(name=name, tenure=self._check_tenure(), done=done)
        await self._pipe.bus.publish(signal)
        if not wait:
            done.add_done_callback(_consume_result)
            return None
        answer = await done
        self._pipe.view_seen(answer.get("view"))
        return answer

    async def pump(
        self,
        produce: Callable[[threading.Event], Iterable[T]],
        consume: Callable[[T], Awaitable[None]],
    ) -> None:
        stop = threading.Event()
        self._stops.add(stop)
        try:
            await pump(produce, consume, name=f"fustor-{self.pipe}-{self.mode.name}", stop=stop)
        finally:
            self._stops.discard(stop)

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(func, *args)

    async def wait_for_trigger(self, timeout: float | None) -> bool:
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
        return self._pipe.request_relisting(paths, reason)

    def report(self, **fields: Any) -> None:
        self.progress.update(fields)
        self.progress["updated_at"] = time.time()
        if self.mode.name == "snapshot":
            self._pipe.snapshot_reported(self.progress)

    async def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        self._check_tenure()
        return await self._pipe.pusher.sentinel_tasks(limit)

    async def sentinel_feedback(self, updates: list[SentinelCheck]) -> dict[str, Any]:
        self._check_tenure()
        return await self._pipe.pusher.sentinel_feedback(updates)

    async def leader_tasks(self, wait_s: float) -> list[LeaderTask]:
        self._check_tenure()
        poll = getattr(self._pipe.pusher, "leader_tasks", None)
        if poll is None:  # a pusher without the task channel (optional, see TaskPusher)
            raise NotImplementedError("the pusher has no task channel")
        tasks: list[LeaderTask] = await poll(wait_s)
        return tasks

    async def task_done(self, task_id: str, report: dict[str, Any]) -> None:
        self._check_tenure()
        await self._pipe.pusher.task_done(task_id, report)  # type: ignore[attr-defined]


def merge_request(into: dict[str, Any], options: dict[str, Any]) -> None:
    """Merge a run request's options into the pending ones: flags OR together (a deep audit
    asked for stays asked for), lists of paths add up, anything else is replaced."""
    for key, value in options.items():
        if isinstance(value, bool):
            into[key] = bool(into.get(key)) or value
        elif isinstance(value, list | tuple):
            merged = list(into.get(key) or [])
            merged.extend(item for item in value if item not in merged)
            into[key] = merged
        else:
            into[key] = value


def _consume_result(future: asyncio.Future[dict[str, Any]]) -> None:
    """A signal nobody awaits: retrieve its outcome so asyncio does not warn about it."""
    if not future.cancelled():
        future.exception()

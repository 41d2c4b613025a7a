"""Fresh answers on demand: a query asks the leader agent to re-list a path now.

``GET /tree?path=X&fresh=true`` must not answer from what the agents happened to report: a
change made through a host without an agent reaches the view only when the leader lists that
directory again, which its audits do every few minutes. So the query puts a *relist task* here
and waits; the leader agent long-polls the task channel (``GET .../sessions/{sid}/tasks``),
re-lists the path (every directory listed, every file stat'ed, no mtime skip) framed by its
audit signals, and reports the task done once Fusion acknowledged the end of that listing — so
when the query wakes, the listing is applied and the answer is proof of the export as it is now.

Tasks of the same path that no agent has taken yet are shared: a hundred clients asking at once
cost one listing. A task handed to a leader that went away is handed again to the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fustor_core.errors import TimedOut, TooManyRequests, Unavailable
from fustor_fusion.sessions import Session, SessionTable

RECHECK_S = 0.5
"""How often a waiting long poll looks whether its session ended or Fusion is stopping."""
MAX_PENDING_PATHS = 1024
"""Distinct paths waiting for a relist at once; one more is refused with 429 (queries of a path
already waiting share its task, so this bounds memory and the leader's backlog, not clients)."""
POLL_SILENCE_S = 180.0
"""A leader that has not polled its task channel for this long, and is not listing one of our
tasks, is treated as unable to re-list (503 at once rather than a 504 after the query's timeout):
an agent polls again within seconds of finishing a listing, and its long polls last ≤ 60 s."""


class FreshTimeout(TimedOut):
    """504: the leader did not finish the listing in time."""

    code = "fresh_timeout"


@dataclass(eq=False)
class RelistTask:
    """One path to re-list, and the queries waiting for it."""

    task_id: str
    path: str
    asked_at: float
    done: asyncio.Future[dict[str, Any]]
    waiters: int = 0
    handed_to: str | None = None
    """The session that took it (None: nobody yet)."""
    handed_at: float | None = None

    def wire(self) -> dict[str, Any]:
        return {"id": self.task_id, "kind": "relist", "path": self.path}


@dataclass
class FreshRequests:
    """The relist tasks of one datastore, between the queries that ask and the leader that lists."""

    datastore: str
    sessions: SessionTable
    _tasks: dict[str, RelistTask] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _pollers: dict[str, float] = field(default_factory=dict)
    """Session id → when it last polled the task channel (a leader that never did cannot answer)."""

    # -- the query's side ---------------------------------------------------------------------

    async def relist(self, path: str, timeout_s: float) -> dict[str, Any]:
        """Have the leader re-list ``path`` and wait until that listing is applied; what the
        agent reported about it. 503 without a leader able to, 504 after ``timeout_s``."""
        leader = self._able_leader(path)
        task = self._task_for(path)
        task.waiters += 1
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(asyncio.shield(task.done), timeout_s)
        except TimeoutError:
            raise FreshTimeout(self._late(task, leader, timeout_s)) from None
        finally:
            task.waiters -= 1
            if task.waiters == 0 and not task.done.done() and task.handed_to is None:
                self._tasks.pop(task.task_id, None)  # nobody wants it any more and nobody took it
        if result.get("error"):
            raise Unavailable(
                f"fresh=true: the leader agent {result.get('agent_id')!r} could not re-list {path!r}:"
                f" {result['error']}",
                code="relist_failed",
            )
        return {**result, "waited_s": round(time.monotonic() - started, 3)}

    def _able_leader(self, path: str) -> Session:
        leader = self.sessions.leader
        if leader is None or leader.closed:
            raise Unavailable(
                f"fresh=true: no agent leads datastore {self.datastore!r}, so nobody can re-list"
                f" {path!r} now; retry once an agent is connected (GET /api/v1/views/{{ds}}/sessions),"
                " or query without fresh",
                code="no_leader",
            )
        last_poll = self._pollers.get(leader.session_id)
        if (
            last_poll is not None
            and time.monotonic() - last_poll > POLL_SILENCE_S
            and not self._listing(leader)
        ):
            raise Unavailable(
                f"fresh=true: the leader agent {leader.agent_id!r} has not asked for relist requests for"
                f" {time.monotonic() - last_poll:.0f} s (its 'fresh' sync mode stopped?), so nobody can"
                f" re-list {path!r} now; query without fresh",
                code="leader_cannot_relist",
            )
        if last_poll is None:
            raise Unavailable(
                f"fresh=true: the leader agent {leader.agent_id!r} does not take relist requests"
                " (an older agent, or its 'fresh' sync mode is off), so nobody can re-list"
                f" {path!r} now; query without fresh",
                code="leader_cannot_relist",
            )
        return leader

    def _listing(self, session: Session) -> bool:
        return any(task.handed_to == session.session_id for task in self._tasks.values())

    def _task_for(self, path: str) -> RelistTask:
        for task in self._tasks.values():
            if task.path == path and task.handed_to is None:
                return task  # not taken yet: this listing will start after our question
        if len(self._tasks) >= MAX_PENDING_PATHS:
            raise TooManyRequests(
                f"fresh=true: {len(self._tasks)} paths are already waiting for the leader agent of"
                f" {self.datastore!r} to re-list them; retry shortly, or query without fresh",
                code="too_many_fresh_requests",
            )
        task = RelistTask(
            task_id=f"t{next(self._ids)}",
            path=path,
            asked_at=time.time(),
            done=asyncio.get_running_loop().create_future(),
        )
        self._tasks[task.task_id] = task
        self._wakeup.set()
        return task

    def _late(self, task: RelistTask, leader: Session, timeout_s: float) -> str:
        if task.handed_to is None:
            where = (
                f"the leader agent {leader.agent_id!r} did not take the request (it may be busy with"
                " another scan, or unreachable)"
            )
        else:
            where = (
                f"the leader agent {leader.agent_id!r} took it"
                f" {time.time() - (task.handed_at or time.time()):.1f} s ago and is still listing"
            )
        return (
            f"fresh=true: {task.path!r} was not re-listed within the timeout of {timeout_s:g} s: {where};"
            " retry with a longer timeout, or query without fresh"
        )

    # -- the leader's side --------------------------------------------------------------------

    async def take(
        self, session: Session, wait_s: float, *, stopping: Callable[[], bool] = lambda: False
    ) -> list[dict[str, Any]]:
        """The tasks ``session`` (the leader) should run, waiting up to ``wait_s`` for one.

        The wait is cut short when the session ends or Fusion is stopping (``stopping``): a
        long poll left open would hold a graceful shutdown for the rest of its wait.
        """
        deadline = time.monotonic() + wait_s
        while True:
            self._pollers[session.session_id] = time.monotonic()
            self._forget_gone_pollers()
            offered = [task for task in self._tasks.values() if task.handed_to != session.session_id]
            if offered or session.closed or not session.is_leader or stopping():
                now = time.time()
                for task in offered:
                    task.handed_to, task.handed_at = session.session_id, now
                return [task.wire() for task in offered]
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), min(left, RECHECK_S))

    def finished(self, task_id: str, report: dict[str, Any], session_id: str) -> bool:
        """The leader's listing for ``task_id`` is applied: wake its queries. False when the task
        is unknown (every query gave up) or was not handed to ``session_id`` — only the session
        that listed the path can vouch for the listing (a stale or foreign report changes nothing)."""
        task = self._tasks.get(task_id)
        if task is None or task.handed_to != session_id:
            return False
        del self._tasks[task_id]
        if not task.done.done():
            task.done.set_result(report)
        return True

    def _forget_gone_pollers(self) -> None:
        live = {session.session_id for session in self.sessions.live()}
        for session_id in [sid for sid in self._pollers if sid not in live]:
            del self._pollers[session_id]

    def stats(self) -> dict[str, int]:
        """Tasks waiting for the leader, tasks it is listing, and the queries waiting for them."""
        taken = sum(1 for task in self._tasks.values() if task.handed_to is not None)
        queries = sum(task.waiters for task in self._tasks.values())
        return {"waiting": len(self._tasks) - taken, "listing": taken, "queries": queries}

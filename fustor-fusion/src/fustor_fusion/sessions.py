"""Ingest sessions of one datastore and the leader lock among them (docs/architecture.md).

The first session opened is the leader. The lock is released only when the leader closes its
session or stays silent for longer than the session timeout (which expires the session); the
next heartbeat of another live session then takes it. Any call on a session is a sign of life.
Expiry is checked lazily on every call (so it never depends on the tick's timing) and swept by
the background tick.
"""

from __future__ import annotations

import heapq
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from fustor_core.errors import Conflict, TooManyRequests
from fustor_core.logs import log_event
from fustor_fusion.ordering import BatchSequencer

logger = logging.getLogger(__name__)


class Role(StrEnum):
    LEADER = "leader"
    FOLLOWER = "follower"


@dataclass(eq=False)
class Session:
    """One agent's connection to one datastore."""

    session_id: str
    agent_id: str
    source_uri: str
    owner: str
    """Fingerprint of the API key that opened it (sessions are limited per key)."""
    opened_at: float
    last_seen: float
    sequencer: BatchSequencer
    role: Role = Role.FOLLOWER
    closed: bool = field(default=False)

    @property
    def is_leader(self) -> bool:
        return self.role is Role.LEADER


class TooManySessions(TooManyRequests):
    """429: the key already holds its limit of open sessions; ``Retry-After`` says when a silent
    one will have expired."""

    code = "too_many_sessions"

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.headers = {"Retry-After": str(max(1, round(retry_after_s)))}


class SessionTable:
    """The live sessions of one datastore and who holds its leader lock."""

    def __init__(
        self,
        datastore: str,
        *,
        timeout_s: float,
        ordering_wait_s: float,
        now: Callable[[], float],
        on_new_leader: Callable[[str], None],
        max_per_owner: int = 256,
    ) -> None:
        self.datastore = datastore
        self._timeout_s = timeout_s
        self._max_per_owner = max_per_owner
        self._ordering_wait_s = ordering_wait_s
        self._now = now
        self._on_new_leader = on_new_leader
        self._sessions: dict[str, Session] = {}
        self._leader: Session | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    def open(self, agent_id: str, source_uri: str, owner: str = "") -> Session:
        """A new session; it leads when nobody (alive) does.

        429 ``too_many_sessions`` when ``owner`` (the key) already holds ``max_per_owner`` live
        sessions: one key must not fill the table. Silent sessions are expired first, so a
        session that was opened and never used stops counting after the session timeout.
        """
        self.expire_stale()
        held = sum(1 for session in self._sessions.values() if session.owner == owner)
        if held >= self._max_per_owner:
            raise TooManySessions(
                f"this API key already holds {held} open sessions of datastore {self.datastore!r}, the"
                f" limit (max_sessions_per_key); close unused ones with DELETE"
                f" /api/v1/ingest/sessions/{{sid}}, or wait: a silent session expires after"
                f" {self._timeout_s:g} s",
                retry_after_s=self._timeout_s,
            )
        now = self._now()
        session = Session(
            session_id="s-" + secrets.token_urlsafe(16),
            agent_id=agent_id,
            source_uri=source_uri,
            owner=owner,
            opened_at=now,
            last_seen=now,
            sequencer=BatchSequencer(wait_s=self._ordering_wait_s),
        )
        self._sessions[session.session_id] = session
        log_event(
            logger,
            logging.INFO,
            "session opened",
            datastore=self.datastore,
            session=session.session_id,
            agent=agent_id,
        )
        self._release_if_leader_stale()
        if self._leader is None:
            self._promote(session)
        return session

    def get(self, session_id: str) -> Session:
        """The live session ``session_id``, refreshed as a sign of life; 409 when it is not live."""
        session = self._sessions.get(session_id)
        if session is None or self._expire_if_stale(session):
            raise Conflict(
                f"session {session_id!r} is expired, closed or unknown to this Fusion; open a new session",
                code="session_expired",
            )
        session.last_seen = self._now()
        return session

    def heartbeat(self, session_id: str) -> Session:
        """Refresh the session; take the leader lock if it is free (or its holder went silent)."""
        session = self.get(session_id)
        self._release_if_leader_stale()
        if self._leader is None:
            self._promote(session)
        return session

    def close(self, session_id: str) -> Session:
        """End a session on the agent's request, releasing the lock if it held it."""
        session = self.get(session_id)
        self._end(session, "session closed")
        return session

    def expire_stale(self) -> list[Session]:
        """End every session silent for longer than the timeout (the periodic sweep)."""
        return [session for session in list(self._sessions.values()) if self._expire_if_stale(session)]

    # -- queries ------------------------------------------------------------------------------

    @property
    def leader(self) -> Session | None:
        """The leader session, if one holds the lock (a silent one may still hold it until checked)."""
        return self._leader

    def live(self) -> list[Session]:
        """Sessions not yet ended, oldest first."""
        return list(self._sessions.values())

    def count(self) -> int:
        """How many sessions are live."""
        return len(self._sessions)

    def page(self, *, after: str | None, limit: int) -> list[Session]:
        """At most ``limit`` live sessions with ids greater than ``after``, in id order (a stable
        order for cursor paging: a page boundary never moves when sessions open or end)."""
        ids = [sid for sid in self._sessions if after is None or sid > after]
        return [self._sessions[sid] for sid in heapq.nsmallest(limit, ids)]

    def age(self, session: Session) -> float:
        """Seconds since the session's last call."""
        return max(0.0, self._now() - session.last_seen)

    def drop_all(self, why: str) -> int:
        """End every session without promoting anyone (this node no longer owns the view: its
        agents reopen their sessions at the owner). Returns how many ended."""
        sessions = list(self._sessions.values())
        for session in sessions:
            self._end(session, why)
        return len(sessions)

    # -- internals ----------------------------------------------------------------------------

    def _promote(self, session: Session) -> None:
        session.role = Role.LEADER
        self._leader = session
        log_event(
            logger,
            logging.INFO,
            "new leader",
            datastore=self.datastore,
            session=session.session_id,
            agent=session.agent_id,
        )
        self._on_new_leader(session.session_id)

    def _release_if_leader_stale(self) -> None:
        if self._leader is not None:
            self._expire_if_stale(self._leader)

    def _expire_if_stale(self, session: Session) -> bool:
        if self._now() - session.last_seen <= self._timeout_s:
            return False
        self._end(session, "session expired")
        return True

    def _end(self, session: Session, why: str) -> None:
        session.closed = True
        self._sessions.pop(session.session_id, None)
        was_leader = self._leader is session
        if was_leader:
            self._leader = None
        log_event(
            logger,
            logging.INFO,
            why,
            datastore=self.datastore,
            session=session.session_id,
            agent=session.agent_id,
            was_leader=was_leader,
        )

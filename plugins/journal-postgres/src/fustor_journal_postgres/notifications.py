"""One LISTENing connection per process and database, shared by every journal object in it.

Every append notifies the channel ``fustor_journal`` with ``<view>:<last_seq>``; PostgreSQL sends
each notification to every connection listening on the channel. One listening connection per
journal object would make a node with many views receive every notification once per view; one
per process keeps it to once. A daemon thread owns the connection, counts the notifications per
view name and wakes the waiters (:meth:`Notifications.wait`); after a lost connection it
reconnects on its own and wakes everyone, since notifications sent meanwhile are lost.

A waiter never trusts a notification's number: it takes a :meth:`~Notifications.mark`, reads the
stored ``last_seq``, and waits for the mark to change only when nothing new was stored — so a
notification arriving between the read and the wait is not missed, and a view of the same name
in another schema (or database on the same server) costs a re-read, not a wrong answer.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, ClassVar

import psycopg

from fustor_core.logs import log_event
from fustor_journal_postgres.connections import Link

logger = logging.getLogger(__name__)

POLL_S = 0.5
"""How often the listening thread looks up from the socket to see whether it should stop."""
RETRY_S = 0.5
"""Pause before reconnecting after the listening connection was lost."""

Mark = tuple[int, int]


class Notifications:
    """The shared listener of one database (``conninfo``) and channel."""

    _shared: ClassVar[dict[tuple[str, str], Notifications]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, conninfo: str, channel: str, *, connect_timeout_s: float) -> None:
        self.channel = channel
        self.link = Link(
            conninfo, "listen", connect_timeout_s=connect_timeout_s, on_connect=self._listen_on_connect
        )
        self._changed = threading.Condition()
        self._counts: dict[str, int] = {}
        self._connections = 0
        self._listening = False
        self._users = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- sharing --------------------------------------------------------------------------------

    @classmethod
    def acquire(cls, conninfo: str, channel: str, *, connect_timeout_s: float) -> Notifications:
        """The process's listener for this database and channel (started if needed)."""
        with cls._shared_lock:
            shared = cls._shared.get((conninfo, channel))
            if shared is None:
                shared = cls._shared[(conninfo, channel)] = cls(
                    conninfo, channel, connect_timeout_s=connect_timeout_s
                )
            shared._users += 1
            if shared._thread is None:
                shared._start()
            return shared

    def release(self) -> None:
        """One user fewer; the last one stops the thread and closes the connection."""
        with self._shared_lock:
            self._users -= 1
            if self._users > 0:
                return
            for key, shared in list(self._shared.items()):
                if shared is self:
                    del self._shared[key]
        self._stop.set()
        self.link.close()

    # -- waiting --------------------------------------------------------------------------------

    def mark(self, view: str) -> Mark:
        """Where the notifications of ``view`` stand (changes at each one, and at a reconnection)."""
        with self._changed:
            return (self._connections, self._counts.get(view, 0))

    def wait_listening(self, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until the connection is LISTENing; whether it is."""
        with self._changed:
            return self._changed.wait_for(lambda: self._listening, timeout=timeout_s)

    def wait(self, view: str, mark: Mark, timeout_s: float) -> bool:
        """Block until ``view``'s mark differs from ``mark`` or ``timeout_s`` passes; whether it did."""
        with self._changed:
            return self._changed.wait_for(
                lambda: (self._connections, self._counts.get(view, 0)) != mark, timeout=timeout_s
            )

    # -- the listening thread -------------------------------------------------------------------

    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="fustor-journal-listen", daemon=True)
        self._thread.start()

    def _listen_on_connect(self, db: psycopg.Connection[Any]) -> None:
        db.execute(f"LISTEN {self.channel}")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with self.link.use() as db:
                    with self._changed:
                        self._connections += 1
                        self._listening = True
                        self._changed.notify_all()
                    while not self._stop.is_set():
                        for note in db.notifies(timeout=POLL_S):
                            self._count(note.payload.rpartition(":")[0])
            except Exception as exc:
                with self._changed:
                    was_listening, self._listening = self._listening, False
                if self._stop.is_set():
                    return
                if was_listening:
                    log_event(
                        logger,
                        logging.WARNING,
                        "journal notifications: connection lost; reconnecting",
                        error=f"{type(exc).__name__}: {exc}",
                    )
                self._stop.wait(RETRY_S)

    def _count(self, view: str) -> None:
        with self._changed:
            self._counts[view] = self._counts.get(view, 0) + 1
            self._changed.notify_all()

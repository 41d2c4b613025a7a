"""One PostgreSQL connection per role, opened on first use, re-opened after it was lost.

A journal object is used from several threads at once (Fusion appends from one, replays and
snapshots from others, and a replica blocks in ``wait_for_records`` in a thread of its own). A
psycopg connection runs one statement at a time, so each role gets its own :class:`Link`: a
connection behind a lock. Connections are opened lazily, so a single-node Fusion that never
claims a lease or follows the journal holds no connection for those roles.

A lost connection (PostgreSQL restarted, the backend terminated, the network cut) makes the call
that found out raise; the link forgets the connection, and the next call opens a new one. A call
is never retried here: an append whose connection broke after the commit left the server may or
may not be stored, and only the caller can decide what to do about that.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from psycopg import pq

# The client notices a dead server or a cut network within ~11 s even while it waits for an
# answer: keepalive probes after 5 s idle, every 2 s, 3 lost = dead; unacknowledged data counts
# as dead after 10 s (tcp_user_timeout, in ms).
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,
}


class Link:
    """The connection of one role (``writer``, ``reader``, ``lease``...), guarded by a lock."""

    def __init__(
        self,
        conninfo: str,
        role: str,
        *,
        connect_timeout_s: float,
        server_settings: dict[str, str] | None = None,
        on_connect: Callable[[psycopg.Connection[Any]], None] | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.role = role
        self.connect_timeout_s = connect_timeout_s
        self.server_settings = dict(server_settings or {})
        self.on_connect = on_connect
        self.lock = threading.Lock()
        self._connection: psycopg.Connection[Any] | None = None
        self.connects = 0
        """How many connections this link opened (the first, then one per reconnection)."""

    @contextlib.contextmanager
    def use(self) -> Iterator[psycopg.Connection[Any]]:
        """The role's connection, for one call; forgets it if the call left it unusable."""
        with self.lock:
            connection = self._connection
            if connection is None or connection.closed or connection.broken:
                connection = self._connect()
            try:
                yield connection
            except BaseException:
                # autocommit: between calls the connection is idle; anything else (broken,
                # interrupted in the middle of a statement) is not worth repairing
                if connection.closed or connection.info.transaction_status != pq.TransactionStatus.IDLE:
                    self._drop()
                raise

    def _connect(self) -> psycopg.Connection[Any]:
        self._drop()
        options = " ".join(f"-c {name}={value}" for name, value in self.server_settings.items())
        connection = psycopg.connect(
            self.conninfo,
            autocommit=True,
            connect_timeout=max(1, round(self.connect_timeout_s)),
            application_name=f"fustor-journal {self.role}",
            options=options or None,
            **KEEPALIVES,  # type: ignore[arg-type]
        )
        try:
            if self.on_connect is not None:
                self.on_connect(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        self.connects += 1
        return connection

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    def backend_pid(self) -> int | None:
        """The server process of the open connection (None when none is open)."""
        connection = self._connection
        if connection is None or connection.closed:
            return None
        return connection.info.backend_pid

    def close(self) -> None:
        """Close the connection without waiting for a call in progress (which then fails)."""
        self._drop()

"""Engine and session factory for the Registry database (SQLite or any SQLAlchemy URL).

The Registry uses the synchronous SQLAlchemy API; the HTTP layer runs each unit of work in
Starlette's thread pool, which keeps every query plain and lets the same service functions
serve the admin CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from fustor_core.errors import ConfigError
from fustor_registry.freejson import load_stored

T = TypeVar("T")


def make_engine(url: str, *, pre_ping: bool = True) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys enforced and its directory created."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(f"database_url: not a valid SQLAlchemy URL: {_redact(url)}") from None
    # hide_parameters: a failing statement's message must never carry values (hashes, ciphertext)
    # load_stored: one stored JSON value that does not parse must not fail a whole listing
    kwargs: dict[str, Any] = {"hide_parameters": True, "json_deserializer": load_stored}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    else:
        kwargs["pool_pre_ping"] = pre_ping  # survive a database server restart (a file cannot "restart")
    try:
        engine = create_engine(parsed, **kwargs)
    except Exception as exc:  # e.g. a driver that is not installed
        raise ConfigError(f"database_url: cannot use {_redact(url)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (key checks) never wait for a writer
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparsable URL>"


class Database:
    """An engine plus a session factory, with one-call transactional units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Reads on the hot path (key verification) skip the pre-ping and the BEGIN/ROLLBACK pair:
        # one round trip per query instead of three. A connection the server dropped is retried
        # once instead (see read()), which is safe because these units only read.
        if self.engine.dialect.name == "sqlite":
            self._reader = self.engine
        else:
            self._reader = make_engine(url, pre_ping=False).execution_options(isolation_level="AUTOCOMMIT")

    @property
    def safe_url(self) -> str:
        return _redact(self.url)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any exception."""
        with self._sessions() as session, session.begin():
            yield session

    def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction and return its result."""
        with self.session() as session:
            return work(session)

    def read(self, work: Callable[[Connection], T]) -> T:
        """Run read-only Core ``work`` on a pooled connection: no ORM session, for hot paths."""
        try:
            with self._reader.connect() as connection:
                return work(connection)
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                raise
        # the pooled connection was dead (database restarted): the pool dropped it, try a fresh one
        with self._reader.connect() as connection:
            return work(connection)

    def dispose(self) -> None:
        self.engine.dispose()
        if self._reader is not self.engine:
            self._reader.dispose()

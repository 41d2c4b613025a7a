"""The private PostgreSQL server starts, keeps committed data across restarts, and stops."""

from __future__ import annotations

import psycopg
import pytest
from pgserver import PgServer


def test_committed_rows_survive_a_fast_and_an_immediate_restart(pg_server: PgServer) -> None:
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    pg_server.restart()
    with psycopg.connect(pg_server.dsn, autocommit=True) as conn:
        conn.execute("INSERT INTO kept VALUES (2)")
    pg_server.restart(mode="immediate")  # a crash of the server: recovered from its WAL
    with psycopg.connect(pg_server.dsn) as conn:
        assert conn.execute("SELECT n FROM kept ORDER BY n").fetchall() == [(1,), (2,)]
    assert pg_server.url.startswith("postgresql+psycopg://postgres@127.0.0.1:")


def test_a_stopped_server_refuses_connections_on_its_port(pg_server: PgServer) -> None:
    pg_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(pg_server.dsn, connect_timeout=2)
    pg_server.start()
    with psycopg.connect(pg_server.dsn) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)

"""The postgres journal passes the journal and shared-journal contracts on a real PostgreSQL, and
keeps its own promises: options named in errors, a lost connection replaced at the next call,
notifications naming the view, snapshots checked chunk by chunk.

PostgreSQL comes from ``FUSTOR_TEST_POSTGRES_URL``; each test works in a schema of its own,
dropped afterwards. Without the variable the tests are skipped, except under CI, where that is a
failure.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from fustor_core.errors import ConfigError
from fustor_core.journal import JournalCorrupt, NewRecord
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import wait_for
from fustor_core.testing.journal_contract import JournalContract, records
from fustor_core.testing.postgres import shared_postgres_url
from fustor_core.testing.shared_journal_contract import SharedJournalContract
from fustor_journal_postgres import PostgresJournal, connection_url
from fustor_journal_postgres.schema import NOTIFY_CHANNEL

pytestmark = pytest.mark.postgres
VIEW = "demo"


@pytest.fixture(scope="module")
def postgres_url() -> str:
    return connection_url(shared_postgres_url())


@pytest.fixture
def admin(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A connection of the test's own, to look at and damage what the journal stored."""
    with psycopg.connect(postgres_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def schema(admin: psycopg.Connection[Any]) -> Iterator[str]:
    name = "fj_test_" + secrets.token_hex(6)
    yield name
    admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


@pytest.fixture
def make_journal(postgres_url: str, schema: str) -> Callable[[], PostgresJournal]:
    return lambda: PostgresJournal(postgres_url, VIEW, schema=schema)


class TestPostgresJournalContract(JournalContract):
    @pytest.fixture
    def make_journal(self, postgres_url: str, schema: str) -> Callable[[], PostgresJournal]:
        return lambda: PostgresJournal(postgres_url, VIEW, schema=schema)

    @pytest.fixture
    def corrupt_last_record(self, admin: psycopg.Connection[Any], schema: str) -> Callable[[], None]:
        def cut_newest_payload_in_half() -> None:
            admin.execute(
                f'UPDATE "{schema}".records SET payload = substring(payload FROM 1 FOR length(payload) / 2)'
                f' WHERE view = %s AND seq = (SELECT max(seq) FROM "{schema}".records WHERE view = %s)',
                (VIEW, VIEW),
            )

        return cut_newest_payload_in_half


class TestPostgresSharedJournalContract(SharedJournalContract):
    @pytest.fixture
    def make_journal(self, postgres_url: str, schema: str) -> Callable[[], PostgresJournal]:
        return lambda: PostgresJournal(postgres_url, VIEW, schema=schema)


# -- options ------------------------------------------------------------------------------------


def test_the_hook_answers_for_postgres_only_and_validates_its_options() -> None:
    hook = get_plugin_manager(only=["journal-postgres"]).hook.fustor_journal
    url = "postgresql://fustor:secret@db.example.org:5432/fustor"
    assert hook(datastore="demo", driver="sqlite", options={}) is None
    journal = hook(datastore="demo", driver="postgres", options={"url": url})
    assert isinstance(journal, PostgresJournal)
    assert (journal.datastore, journal.schema) == ("demo", "fustor_journal")
    assert journal.links[0].conninfo == url and journal.links[0].connect_timeout_s == 5.0
    alchemy = hook(
        datastore="demo",
        driver="postgres",
        options={
            "url": "postgresql+psycopg://fustor:secret@db:5432/f",
            "schema": "j2",
            "connect_timeout_s": 2.5,
        },
    )
    assert alchemy.links[0].conninfo == "postgresql://fustor:secret@db:5432/f"
    assert alchemy.schema == "j2" and alchemy.links[0].connect_timeout_s == 2.5
    bad: list[tuple[dict[str, Any], str]] = [
        ({"url": url, "path": "/x"}, r"journal\.path: unknown option of the postgres journal"),
        ({}, r"journal\.url: required"),
        ({"url": "mysql://x/y"}, r"journal\.url: must be a postgresql:// URL"),
        ({"url": "postgresql+asyncpg://x/y"}, r"journal\.url: must be a postgresql:// URL"),
        ({"url": "postgresql://x:port/y"}, r"journal\.url: has a port that is not a number"),
        ({"url": url, "schema": "drop table; --"}, r"journal\.schema: must be a PostgreSQL name"),
        ({"url": url, "connect_timeout_s": 0}, r"journal\.connect_timeout_s: must be a number"),
        ({"url": url, "connect_timeout_s": "5"}, r"journal\.connect_timeout_s: must be a number"),
    ]
    for options, message in bad:
        with pytest.raises(ConfigError, match=message):
            hook(datastore="demo", driver="postgres", options=options)


# -- what the plugin does beyond the contracts -------------------------------------------------


def test_nodes_opening_at_once_create_the_tables_once_and_share_one_incarnation(
    make_journal: Callable[[], PostgresJournal],
) -> None:
    journals = [make_journal() for _ in range(4)]
    states: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(len(journals))

    def open_one(journal: PostgresJournal) -> None:
        try:
            start.wait()
            states.append(journal.open())
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(j,)) for j in journals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not errors
        assert len({state.view_id for state in states}) == 1
        assert sum(state.created for state in states) == 1
    finally:
        for journal in journals:
            journal.close()


def test_nodes_appending_at_once_get_distinct_consecutive_numbers(
    make_journal: Callable[[], PostgresJournal],
) -> None:
    """The view row's lock serialises appenders of every node: no number twice, none skipped."""
    journals = [make_journal() for _ in range(3)]
    for journal in journals:
        journal.open()
    returned: list[int] = []
    errors: list[BaseException] = []

    def append_many(journal: PostgresJournal, tag: str) -> None:
        try:
            for i in range(40):
                returned.append(journal.append([NewRecord(time=float(i), kind=tag, payload=b"p")] * 3))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=append_many, args=(j, f"n{i}")) for i, j in enumerate(journals)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors
        stored = journals[0].read(0, 1000)
        assert [r.seq for r in stored] == list(range(1, 361))
        assert sorted(returned) == list(range(3, 361, 3)), "each append got its own three numbers"
        for last in returned:  # an append's records are consecutive and from one node
            assert len({r.kind for r in stored[last - 3 : last]}) == 1
    finally:
        for journal in journals:
            journal.close()


def test_every_append_notifies_the_channel_with_view_and_last_seq(
    make_journal: Callable[[], PostgresJournal], postgres_url: str
) -> None:
    journal = make_journal()
    journal.open()
    try:
        with psycopg.connect(postgres_url, autocommit=True) as listener:
            listener.execute(f"LISTEN {NOTIFY_CHANNEL}")
            journal.append(records(3))
            journal.append(records(2))
            mine: list[str] = []
            deadline = time.monotonic() + 10
            while len(mine) < 2 and time.monotonic() < deadline:
                for note in listener.notifies(timeout=deadline - time.monotonic(), stop_after=1):
                    if note.payload.startswith(f"{VIEW}:"):
                        mine.append(note.payload)
            assert mine == [f"{VIEW}:3", f"{VIEW}:5"]
    finally:
        journal.close()


def test_a_view_of_the_same_name_in_another_schema_does_not_wake_a_follower(
    make_journal: Callable[[], PostgresJournal], postgres_url: str, admin: psycopg.Connection[Any]
) -> None:
    other_schema = "fj_test_" + secrets.token_hex(6)
    other = PostgresJournal(postgres_url, VIEW, schema=other_schema)
    journal = make_journal()
    other.open()
    journal.open()
    try:
        other.append(records(5))
        result: list[int] = []
        follower = threading.Thread(target=lambda: result.append(journal.wait_for_records(0, 1.0)))
        follower.start()
        for _ in range(5):
            other.append(records(1))
        follower.join(timeout=30)
        assert result == [0], "the other schema's sequence numbers are not this view's"
    finally:
        journal.close()
        other.close()
        admin.execute(f'DROP SCHEMA IF EXISTS "{other_schema}" CASCADE')


def test_a_journal_reconnects_after_its_connections_are_killed(
    make_journal: Callable[[], PostgresJournal], admin: psycopg.Connection[Any]
) -> None:
    """As after a PostgreSQL restart: a call may fail once, the next one works; the shared
    listener reconnects on its own and wakes followers again."""
    journal = make_journal()
    journal.open()
    other = make_journal()
    other.open()
    try:
        journal.append(records(2))
        journal.read(0, 10)
        journal.write_snapshot(2, [b"s"])
        journal.claim("a", "http://a:1", 30.0)
        journal.wait_for_records(0, 0.1)
        listener = journal._notifications
        assert listener is not None
        links = [*journal.links, listener.link]
        pids = [pid for link in links if (pid := link.backend_pid()) is not None]
        assert len(pids) == 5, "every role opened its connection"
        killed = admin.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM unnest(%s::int[]) AS pid", (pids,)
        ).fetchone()
        assert killed == (5,)
        wait_for_backends_gone(admin, pids)

        def twice(call: Callable[[], Any]) -> Any:
            try:
                return call()
            except psycopg.OperationalError:
                return call()  # the failed call dropped the connection; this one reconnects

        assert twice(lambda: journal.append(records(1))) == 3
        assert [r.seq for r in twice(lambda: journal.read(0, 10))] == [1, 2, 3]
        assert twice(lambda: list(journal.load_snapshot(2))) == [b"s"]
        assert twice(lambda: journal.write_snapshot(3, [b"t"])).seq == 3
        assert twice(lambda: journal.claim("a", "http://a:1", 30.0)).held_by("a")
        assert twice(lambda: journal.wait_for_records(2, 5.0)) == 3
        assert [link.connects for link in journal.links] == [2, 2, 2, 2], "each role reconnected once"
        wait_for(lambda: listener.link.connects == 2 and listener.wait_listening(0), what="the listener back")
        follower: list[tuple[int, float]] = []
        thread = threading.Thread(
            target=lambda: follower.append((journal.wait_for_records(3, 30.0), time.monotonic()))
        )
        thread.start()
        time.sleep(0.2)
        assert follower == []
        appended_at = time.monotonic()
        other.append(records(1))
        thread.join(timeout=30)
        assert follower and follower[0][0] == 4
        assert follower[0][1] - appended_at < 0.5, "woken by the new listening connection, not by polling"
    finally:
        journal.close()
        other.close()


def wait_for_backends_gone(admin: psycopg.Connection[Any], pids: list[int]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)).fetchone()
        if row == (0,):
            return
        time.sleep(0.02)
    raise TimeoutError(f"backends {pids} still running")


def test_a_row_of_an_unknown_layout_is_set_aside_and_the_view_starts_empty(
    make_journal: Callable[[], PostgresJournal], admin: psycopg.Connection[Any], schema: str
) -> None:
    journal = make_journal()
    old = journal.open()
    journal.append(records(3))
    journal.close()
    admin.execute(f'UPDATE "{schema}".views SET format = 99 WHERE view = %s', (VIEW,))
    again = make_journal()
    state = again.open()
    try:
        assert state.created and state.view_id != old.view_id and state.last_seq == 0
        assert state.problems and "unknown layout" in state.problems[0]
        assert again.read(0, 10) == []
        kept = admin.execute(
            f'SELECT view, count(*) FROM "{schema}".records WHERE view LIKE %s GROUP BY view',
            (VIEW + "~aside-%",),
        ).fetchall()
        assert [count for _, count in kept] == [3], "the old records are kept for forensics"
        assert again.append(records(1)) == 1
    finally:
        again.close()


def test_a_damaged_or_missing_snapshot_chunk_fails_its_check(
    make_journal: Callable[[], PostgresJournal], admin: psycopg.Connection[Any], schema: str
) -> None:
    journal = make_journal()
    journal.open()
    try:
        journal.append(records(1))
        journal.write_snapshot(1, [os.urandom(1000) for _ in range(40)])
        assert len(list(journal.load_snapshot(1))) == 40
        admin.execute(
            f'UPDATE "{schema}".snapshot_chunks SET data = %s WHERE view = %s AND chunk_no = 20', (b"x", VIEW)
        )
        with pytest.raises(JournalCorrupt, match="chunk 20 fails its checksum"):
            list(journal.load_snapshot(1))
        admin.execute(f'DELETE FROM "{schema}".snapshot_chunks WHERE view = %s AND chunk_no = 20', (VIEW,))
        with pytest.raises(JournalCorrupt, match="chunk 20 is missing"):
            list(journal.load_snapshot(1))
        admin.execute(f'DELETE FROM "{schema}".snapshot_chunks WHERE view = %s AND chunk_no >= 20', (VIEW,))
        with pytest.raises(JournalCorrupt, match="ends after 20 of 40 chunks"):
            list(journal.load_snapshot(1))
    finally:
        journal.close()


def test_a_snapshot_is_invisible_to_other_nodes_until_complete(
    make_journal: Callable[[], PostgresJournal],
) -> None:
    writer, reader = make_journal(), make_journal()
    writer.open()
    reader.open()
    try:
        writer.append(records(1))
        seen_while_writing: list[Any] = []

        def chunks() -> Iterator[bytes]:
            for i in range(8):
                yield os.urandom(1 << 20)
                if i == 6:
                    seen_while_writing.append(reader.snapshots())

        writer.write_snapshot(1, chunks())
        assert seen_while_writing == [[]]
        assert [s.seq for s in reader.snapshots()] == [1]
        assert sum(len(c) for c in reader.load_snapshot(1)) == 8 << 20
    finally:
        writer.close()
        reader.close()


def test_trim_runs_in_small_transactions(
    make_journal: Callable[[], PostgresJournal], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("fustor_journal_postgres.journal.TRIM_BATCH", 7)
    journal = make_journal()
    journal.open()
    try:
        journal.append([NewRecord(time=0.0, kind="tick", payload=b"") for _ in range(50)])
        journal.write_snapshot(50, [b"s"])
        assert journal.trim(before=1.0) == 50
        assert journal.read(0, 100) == []
    finally:
        journal.close()


def test_a_stalled_node_cannot_keep_the_view_row_locked(
    make_journal: Callable[[], PostgresJournal],
) -> None:
    """A node that stops talking in the middle of a transaction on the view's row (a stalled
    network) is cut off by the server after 5 s idle, so another node can still take the lease
    over: its claims fail fast (lock_timeout) meanwhile, then succeed."""
    stalled, other = make_journal(), make_journal()
    stalled.open()
    other.open()
    try:
        stalled.claim("a", "http://a:1", 0.5)
        with stalled._writer.use() as db:
            assert db.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("5s",)
            db.execute("BEGIN")
            db.execute(f'SELECT * FROM "{stalled.schema}".views WHERE view = %s FOR UPDATE', (VIEW,))
            locked_at = time.monotonic()
            # ...and the node says nothing more on this connection
            failures: list[str] = []

            def taken() -> bool:
                try:
                    return other.claim("b", "http://b:1", 30.0).held_by("b")
                except psycopg.errors.LockNotAvailable:
                    failures.append("lock")
                    return False

            wait_for(taken, timeout=20.0, what="another node to take the lease over")
            took = time.monotonic() - locked_at
        assert failures, "the row was locked at first"
        assert 4.0 < took < 10.0, f"taken over {took:.1f} s after the stall"
    finally:
        stalled.close()
        other.close()

"""The sqlite journal passes the journal contract, and survives what disks and crashes do to it."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from fustor_core.errors import ConfigError
from fustor_core.journal import JournalCorrupt, NewRecord
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing.journal_contract import JournalContract, records
from fustor_journal_sqlite import SqliteJournal
from fustor_journal_sqlite.journal import DB_NAME, JournalInUse


class TestSqliteJournalContract(JournalContract):
    @pytest.fixture
    def make_journal(self, tmp_path: Path) -> Callable[[], SqliteJournal]:
        return lambda: SqliteJournal(tmp_path / "demo")

    @pytest.fixture
    def corrupt_last_record(self, tmp_path: Path) -> Callable[[], None]:
        def cut_newest_payload_in_half() -> None:
            with sqlite3.connect(tmp_path / "demo" / DB_NAME) as db:
                db.execute(
                    "UPDATE records SET payload = substr(payload, 1, length(payload) / 2)"
                    " WHERE seq = (SELECT max(seq) FROM records)"
                )

        return cut_newest_payload_in_half


# -- what the plugin does beyond the contract ---------------------------------------------------


def test_the_hook_answers_for_sqlite_only_and_validates_its_options(tmp_path: Path) -> None:
    pm = get_plugin_manager(only=["journal-sqlite"])
    hook = pm.hook.fustor_journal
    assert hook(datastore="demo", driver="postgres", options={}) is None
    journal = hook(datastore="demo", driver="sqlite", options={"path": str(tmp_path / "j")})
    assert isinstance(journal, SqliteJournal) and journal.directory == tmp_path / "j" / "demo"
    with pytest.raises(ConfigError, match=r"journal\.synchronus: unknown option"):
        hook(datastore="demo", driver="sqlite", options={"synchronus": "full"})
    with pytest.raises(ConfigError, match=r"journal\.synchronous: must be one of normal, full"):
        hook(datastore="demo", driver="sqlite", options={"synchronous": "off"})
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"journal\.path: cannot create"):
        hook(datastore="demo", driver="sqlite", options={"path": str(tmp_path / "file" / "sub")})
    with pytest.raises(ConfigError, match="not usable as a journal directory"):
        hook(datastore="..", driver="sqlite", options={"path": str(tmp_path / "j")})


def test_the_default_path_is_under_fustor_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSTOR_HOME", str(tmp_path / "home"))
    journal = get_plugin_manager(only=["journal-sqlite"]).hook.fustor_journal(
        datastore="demo", driver="sqlite", options={}
    )
    assert journal.directory == tmp_path / "home" / "journal" / "demo"


def test_two_processes_cannot_write_one_journal(tmp_path: Path) -> None:
    first = SqliteJournal(tmp_path / "demo")
    first.open()
    try:
        with pytest.raises(JournalInUse, match=r"give each Fusion its own journal\.path"):
            SqliteJournal(tmp_path / "demo").open()
    finally:
        first.close()
    second = SqliteJournal(tmp_path / "demo")  # the lock went with the first one
    second.open()
    second.close()


def test_an_unreadable_database_is_set_aside_and_the_view_starts_empty(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "demo")
    old = journal.open()
    journal.append(records(3))
    journal.write_snapshot(3, [b"old"])
    journal.close()
    db = tmp_path / "demo" / DB_NAME
    with open(db, "r+b") as raw:  # garbage over the header: "file is not a database"
        raw.write(os.urandom(100))
    fresh = SqliteJournal(tmp_path / "demo")
    state = fresh.open()
    try:
        assert state.created and state.view_id != old.view_id
        assert state.problems and "could not be read" in state.problems[0]
        assert state.snapshots == [] and fresh.read(0, 10) == []
        kept = [p for p in (tmp_path / "demo").iterdir() if p.name.startswith("corrupt-")]
        assert len(kept) == 1 and (kept[0] / DB_NAME).exists(), "the damaged files are kept for forensics"
        assert fresh.append(records(1)) == 1
    finally:
        fresh.close()


def test_a_truncated_snapshot_file_fails_its_check(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "demo")
    journal.open()
    try:
        journal.append(records(1))
        journal.write_snapshot(1, [os.urandom(1000), os.urandom(1000)])
        (path,) = (tmp_path / "demo" / "snapshots").glob("*.snap")
        os.truncate(path, path.stat().st_size - 10)
        with pytest.raises(JournalCorrupt, match="truncated"):
            list(journal.load_snapshot(1))
        data = bytearray(path.read_bytes())
        data[200] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(JournalCorrupt):
            list(journal.load_snapshot(1))
    finally:
        journal.close()


def test_a_snapshot_of_another_incarnation_is_refused(tmp_path: Path) -> None:
    journal = SqliteJournal(tmp_path / "demo")
    journal.open()
    try:
        journal.append(records(2))
        journal.write_snapshot(2, [b"old incarnation"])
        stale = (tmp_path / "demo" / "snapshots").glob("*.snap").__next__().read_bytes()
        journal.reset("test")
        journal.append(records(2))
        (tmp_path / "demo" / "snapshots" / f"{2:020d}.snap").write_bytes(stale)
        with pytest.raises(JournalCorrupt, match="another incarnation"):
            list(journal.load_snapshot(2))
    finally:
        journal.close()


def test_an_acknowledged_append_survives_sigkill(tmp_path: Path) -> None:
    """``append`` returned = on disk for a new process, with the default synchronous=normal."""
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from fustor_core.journal import NewRecord
        from fustor_journal_sqlite import SqliteJournal
        journal = SqliteJournal(__import__("pathlib").Path({str(tmp_path / "demo")!r}))
        journal.open()
        for i in range(200):
            journal.append([NewRecord(time=float(i), kind="event", payload=b"x" * 5000)])
        print("appended", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == -9 and "appended" in result.stdout, result.stderr
    journal = SqliteJournal(tmp_path / "demo")
    state = journal.open()
    try:
        assert state.last_seq == 200 and not state.problems
        assert len(journal.read(0, 1000)) == 200
    finally:
        journal.close()


def test_trim_runs_in_small_transactions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("fustor_journal_sqlite.journal.TRIM_BATCH", 7)
    journal = SqliteJournal(tmp_path / "demo")
    journal.open()
    try:
        journal.append([NewRecord(time=0.0, kind="tick", payload=b"") for _ in range(50)])
        journal.write_snapshot(50, [b"s"])
        assert journal.trim(before=1.0) == 50
        assert journal.read(0, 100) == []
    finally:
        journal.close()

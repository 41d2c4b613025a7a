"""The contract test suite of :mod:`fustor_core.journal`: every journal plugin passes it.

Subclass :class:`JournalContract` in the plugin's tests and provide the ``make_journal`` fixture:
a callable that returns a *new* journal object over the *same* storage each time it is called
(so a test can close one and open another, as a Fusion restart does). To run the corruption
test, also override ``corrupt_last_record``: a fixture returning a callable that damages the
newest stored record of a closed journal the way a crash in the middle of a write would::

    class TestSqliteJournal(JournalContract):
        @pytest.fixture
        def make_journal(self, tmp_path):
            return lambda: SqliteJournal(tmp_path / "demo")

        @pytest.fixture
        def corrupt_last_record(self, tmp_path):
            return lambda: truncate_newest_payload(tmp_path / "demo")

Imported by tests only (it needs pytest); core's pytest plugin registers it for assertion
rewriting, so a failure shows the values compared.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fustor_core.journal import Journal, JournalCorrupt, JournalRecord, JournalState, NewRecord

MakeJournal = Callable[[], Journal]


def records(
    n: int, *, start: float = 1_700_000_000.0, kind: str = "event", size: int = 16
) -> list[NewRecord]:
    """``n`` records one second apart with distinct payloads."""
    return [
        NewRecord(time=start + i, kind=kind, payload=f"{i:08d}".encode() + os.urandom(size)) for i in range(n)
    ]


class JournalContract:
    """What Fusion relies on from a journal, one test per promise."""

    opened_state: JournalState
    """What the ``journal`` fixture's open returned."""

    @pytest.fixture
    def make_journal(self) -> MakeJournal:
        raise NotImplementedError("a journal plugin's tests provide the make_journal fixture")

    @pytest.fixture
    def corrupt_last_record(self) -> Callable[[], None] | None:
        """Override to return a callable damaging the newest record of a closed journal."""
        return None

    @pytest.fixture
    def journal(self, make_journal: MakeJournal) -> Iterator[Journal]:
        opened = make_journal()
        self.opened_state = opened.open()
        yield opened
        opened.close()

    @staticmethod
    def reopen(journal: Journal, make_journal: MakeJournal) -> tuple[Journal, JournalState]:
        """Close ``journal`` and open the same storage again, as a restarted Fusion does."""
        journal.close()
        again = make_journal()
        return again, again.open()

    # -- incarnation and sequence --------------------------------------------------------------

    def test_a_new_journal_is_empty_with_a_fresh_view_id(self, make_journal: MakeJournal) -> None:
        journal = make_journal()
        state = journal.open()
        try:
            assert isinstance(journal, Journal)
            assert state.created and state.view_id
            assert (state.last_seq, state.first_seq, state.snapshots, state.problems) == (0, 1, [], [])
            assert journal.read(0, 10) == []
        finally:
            journal.close()
        other = make_journal()
        assert not other.open().created, "a second open finds the journal the first one created"
        other.close()

    def test_append_allocates_consecutive_sequence_numbers(self, journal: Journal) -> None:
        assert journal.append(records(3)) == 3
        assert journal.append(records(1)) == 4
        assert journal.append(records(2)) == 6
        assert [r.seq for r in journal.read(0, 100)] == [1, 2, 3, 4, 5, 6]

    def test_records_come_back_exactly_in_order(self, journal: Journal) -> None:
        written = [
            NewRecord(time=1.5, kind="event", payload=b""),
            NewRecord(time=2.25, kind="tick", payload=b"\x00\xff" * 1000),
            NewRecord(time=3.0, kind="signal", payload=os.urandom(1 << 20)),
        ]
        journal.append(written)
        got = journal.read(0, 10)
        assert got == [JournalRecord(i + 1, r.time, r.kind, r.payload) for i, r in enumerate(written)]

    def test_read_after_a_sequence_number_with_a_limit(self, journal: Journal) -> None:
        journal.append(records(10))
        assert [r.seq for r in journal.read(3, 4)] == [4, 5, 6, 7]
        assert [r.seq for r in journal.read(8, 100)] == [9, 10]
        assert journal.read(10, 100) == []

    def test_a_reopened_journal_has_the_same_view_id_and_records(
        self, journal: Journal, make_journal: MakeJournal
    ) -> None:
        journal.append(records(5))
        view_id = self.opened_state.view_id
        again, state = self.reopen(journal, make_journal)
        try:
            assert not state.created
            assert state.view_id == view_id
            assert state.last_seq == 5
            assert [r.seq for r in again.read(0, 10)] == [1, 2, 3, 4, 5]
            assert again.append(records(1)) == 6
        finally:
            again.close()

    def test_reset_starts_a_new_incarnation(self, journal: Journal, make_journal: MakeJournal) -> None:
        journal.append(records(4))
        journal.write_snapshot(4, [b"chunk"])
        old = self.opened_state.view_id
        state = journal.reset("test")
        assert state.view_id != old and state.created
        assert journal.read(0, 10) == [] and journal.snapshots() == []
        journal.append(records(1))
        again, reopened = self.reopen(journal, make_journal)
        try:
            assert reopened.view_id == state.view_id
            assert len(again.read(0, 10)) == 1
        finally:
            again.close()

    # -- snapshots ------------------------------------------------------------------------------

    def test_a_snapshot_comes_back_chunk_by_chunk(self, journal: Journal) -> None:
        journal.append(records(7))
        chunks = [b"header", os.urandom(3 << 20), b"", b"tail" * 100]
        info = journal.write_snapshot(7, iter(chunks))
        assert info.seq == 7 and info.size > 0
        assert [s.seq for s in journal.snapshots()] == [7]
        assert list(journal.load_snapshot(7)) == chunks

    def test_snapshots_are_listed_newest_first_and_survive_a_reopen(
        self, journal: Journal, make_journal: MakeJournal
    ) -> None:
        journal.append(records(3))
        journal.write_snapshot(2, [b"two"])
        journal.write_snapshot(3, [b"three"])
        again, state = self.reopen(journal, make_journal)
        try:
            assert [s.seq for s in state.snapshots] == [3, 2]
            assert list(again.load_snapshot(2)) == [b"two"]
        finally:
            again.close()

    def test_a_snapshot_that_fails_while_written_is_not_listed(self, journal: Journal) -> None:
        journal.append(records(2))

        def broken() -> Iterator[bytes]:
            yield b"first"
            raise RuntimeError("dump failed")

        with pytest.raises(RuntimeError):
            journal.write_snapshot(2, broken())
        assert journal.snapshots() == []

    def test_a_snapshot_cannot_be_ahead_of_the_records(self, journal: Journal) -> None:
        journal.append(records(2))
        with pytest.raises(ValueError):
            journal.write_snapshot(3, [b"x"])

    def test_loading_an_unknown_snapshot_raises_journal_corrupt(self, journal: Journal) -> None:
        with pytest.raises(JournalCorrupt):
            list(journal.load_snapshot(99))

    # -- trimming -------------------------------------------------------------------------------

    def test_trim_removes_only_old_records_the_newest_snapshot_contains(self, journal: Journal) -> None:
        journal.append(records(10, start=1000.0))  # times 1000..1009
        journal.write_snapshot(6, [b"s"])
        assert journal.trim(before=1004.5) == 5  # seq 1..5 (times 1000..1004)
        assert [r.seq for r in journal.read(0, 100)] == [6, 7, 8, 9, 10]
        assert journal.trim(before=10_000.0) == 1  # seq 6 is in the snapshot; 7..10 are not
        assert [r.seq for r in journal.read(0, 100)] == [7, 8, 9, 10]

    def test_trim_without_a_snapshot_keeps_everything(self, journal: Journal) -> None:
        journal.append(records(3, start=0.0))
        assert journal.trim(before=time.time()) == 0
        assert len(journal.read(0, 10)) == 3

    def test_trim_keeps_the_newest_snapshots_only(self, journal: Journal) -> None:
        journal.append(records(5))
        for seq in (1, 2, 3, 4):
            journal.write_snapshot(seq, [str(seq).encode()])
        journal.trim(before=0.0, keep_snapshots=2)
        assert [s.seq for s in journal.snapshots()] == [4, 3]

    def test_sequence_numbers_never_go_back_after_trimming_everything(
        self, journal: Journal, make_journal: MakeJournal
    ) -> None:
        journal.append(records(4, start=0.0))
        journal.write_snapshot(4, [b"s"])
        assert journal.trim(before=time.time()) == 4
        again, state = self.reopen(journal, make_journal)
        try:
            assert state.last_seq == 4 and state.first_seq == 5
            assert again.append(records(1)) == 5
        finally:
            again.close()

    # -- damage and concurrency ----------------------------------------------------------------

    def test_a_corrupt_last_record_is_reported_and_skipped(
        self,
        journal: Journal,
        make_journal: MakeJournal,
        corrupt_last_record: Callable[[], None] | None,
    ) -> None:
        if corrupt_last_record is None:
            pytest.skip("this backend provides no way to damage a record")
        written = records(5)
        journal.append(written)
        journal.close()
        corrupt_last_record()
        again = make_journal()
        state = again.open()
        try:
            assert state.problems, "the damage is reported"
            assert not state.created, "the journal is kept, not replaced"
            assert [r.payload for r in again.read(0, 10)] == [r.payload for r in written[:4]]
            assert again.append(records(1)) == 6, "the damaged record's number is not reused"
            assert [r.seq for r in again.read(0, 10)] == [1, 2, 3, 4, 6], "a later append reads back"
        finally:
            again.close()

    def test_appends_and_snapshots_run_in_parallel_threads(self, journal: Journal) -> None:
        journal.append(records(1))
        errors: list[BaseException] = []

        def appender() -> None:
            try:
                for _ in range(50):
                    journal.append(records(20))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        thread = threading.Thread(target=appender)
        thread.start()
        for _ in range(5):
            journal.write_snapshot(1, (os.urandom(1 << 16) for _ in range(8)))
            journal.read(0, 200)
        thread.join()
        assert not errors
        assert [r.seq for r in journal.read(0, 2000)] == list(range(1, 1002))

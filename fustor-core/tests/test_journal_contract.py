"""The journal contract suite, run against the smallest journal that keeps its promises.

``ReferenceJournal`` keeps everything in a dict shared by every object made over the same
"storage" (so reopening finds what an earlier object wrote). It is the contract in executable
form for plugin authors, and proves the suite asks for nothing a journal cannot do.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from fustor_core.journal import Journal, JournalCorrupt, JournalRecord, JournalState, NewRecord, SnapshotInfo
from fustor_core.testing.journal_contract import JournalContract


@dataclass
class Storage:
    view_id: str = ""
    last_seq: int = 0
    records: dict[int, tuple[JournalRecord, bool]] = field(default_factory=dict)
    """seq -> (record, intact)."""
    snapshots: dict[int, tuple[list[bytes], float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ReferenceJournal:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def open(self) -> JournalState:
        s = self.storage
        created = not s.view_id
        if created:
            s.view_id = "v-" + secrets.token_hex(6)
        problems = []
        for seq in sorted(s.records, reverse=True):
            if s.records[seq][1]:
                break
            del s.records[seq]
            problems.append(f"record {seq} was damaged; skipped")
        return JournalState(
            view_id=s.view_id,
            last_seq=s.last_seq,
            first_seq=min(s.records, default=s.last_seq + 1),
            snapshots=self.snapshots(),
            created=created,
            problems=problems,
        )

    def append(self, records: Sequence[NewRecord]) -> int:
        s = self.storage
        with s.lock:
            for record in records:
                s.last_seq += 1
                s.records[s.last_seq] = (
                    JournalRecord(s.last_seq, record.time, record.kind, record.payload),
                    True,
                )
            return s.last_seq

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        with self.storage.lock:
            found = sorted((seq, entry) for seq, entry in self.storage.records.items() if seq > after_seq)
        return [record for _, (record, intact) in found if intact][:limit]

    def write_snapshot(self, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        if seq > self.storage.last_seq:
            raise ValueError("ahead of the journal")
        kept = list(chunks)  # consumed before anything is visible
        with self.storage.lock:
            self.storage.snapshots[seq] = (kept, 0.0)
        return SnapshotInfo(seq, 0.0, sum(map(len, kept)))

    def snapshots(self) -> list[SnapshotInfo]:
        with self.storage.lock:
            items = sorted(self.storage.snapshots.items(), reverse=True)
        return [SnapshotInfo(seq, at, sum(map(len, chunks))) for seq, (chunks, at) in items]

    def load_snapshot(self, seq: int) -> Iterator[bytes]:
        if seq not in self.storage.snapshots:
            raise JournalCorrupt(f"no snapshot {seq}")
        return iter(self.storage.snapshots[seq][0])

    def trim(self, *, before: float, keep_snapshots: int = 2) -> int:
        s = self.storage
        with s.lock:
            newest = max(s.snapshots, default=0)
            for seq in sorted(s.snapshots, reverse=True)[max(keep_snapshots, 1) :]:
                del s.snapshots[seq]
            doomed = [seq for seq, (r, _) in s.records.items() if seq <= newest and r.time < before]
            for seq in doomed:
                del s.records[seq]
        return len(doomed)

    def reset(self, reason: str) -> JournalState:
        s = self.storage
        with s.lock:
            s.view_id = "v-" + secrets.token_hex(6)
            s.last_seq = 0
            s.records.clear()
            s.snapshots.clear()
        return JournalState(view_id=s.view_id, last_seq=0, first_seq=1, created=True)

    def close(self) -> None:
        pass


class TestReferenceJournal(JournalContract):
    @pytest.fixture
    def storage(self) -> Storage:
        return Storage()

    @pytest.fixture
    def make_journal(self, storage: Storage) -> Callable[[], Journal]:
        return lambda: ReferenceJournal(storage)

    @pytest.fixture
    def corrupt_last_record(self, storage: Storage) -> Callable[[], None]:
        def damage() -> None:
            seq = max(storage.records)
            storage.records[seq] = (storage.records[seq][0], False)

        return damage


def test_the_reference_journal_satisfies_the_protocol() -> None:
    journal: Any = ReferenceJournal(Storage())
    assert isinstance(journal, Journal)

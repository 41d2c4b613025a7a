"""The shared-journal contract suite, run against the smallest shared journal that keeps its
promises: every object made over one in-memory "store" stands for a node. The store's clock
(``time.monotonic``) decides expiry, a condition variable plays the commit notification. It is
:mod:`fustor_core.cluster` in executable form, and proves the suite asks for nothing a shared
journal cannot do (no PostgreSQL needed)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import pytest

from fustor_core.cluster import Lease, NotOwner, SharedJournal
from fustor_core.journal import JournalCorrupt, JournalRecord, JournalState, NewRecord, SnapshotInfo
from fustor_core.testing.shared_journal_contract import SharedJournalContract


@dataclass
class Store:
    view_id: str = field(default_factory=lambda: "v-" + secrets.token_hex(6))
    records: list[JournalRecord] = field(default_factory=list)
    owner: str | None = None
    owner_url: str | None = None
    epoch: int = 0
    expires_at: float = 0.0
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def last_seq(self) -> int:
        return self.records[-1].seq if self.records else 0

    def lease(self) -> Lease:
        remaining = self.expires_at - time.monotonic() if self.owner is not None else 0.0
        return Lease(self.owner, self.owner_url, self.epoch, remaining)


class ReferenceSharedJournal:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.fenced: tuple[str, int] | None = None

    def open(self) -> JournalState:
        return JournalState(view_id=self.store.view_id, last_seq=self.store.last_seq, first_seq=1)

    def append(self, records: Sequence[NewRecord]) -> int:
        s = self.store
        with s.changed:  # the "transaction": lease check and numbering under one lock
            if self.fenced is not None and (s.owner, s.epoch) != self.fenced:
                raise NotOwner("lease lost")
            for r in records:
                s.records.append(JournalRecord(s.last_seq + 1, r.time, r.kind, r.payload))
            s.changed.notify_all()
            return s.last_seq

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        with self.store.changed:
            return [r for r in self.store.records if r.seq > after_seq][:limit]

    def write_snapshot(self, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        raise NotImplementedError

    def snapshots(self) -> list[SnapshotInfo]:
        return []

    def load_snapshot(self, seq: int) -> Iterator[bytes]:
        raise JournalCorrupt("no snapshots here")

    def trim(self, *, before: float, keep_snapshots: int = 2) -> int:
        return 0

    def reset(self, reason: str) -> JournalState:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def claim(self, node_id: str, url: str, ttl_s: float) -> Lease:
        s = self.store
        with s.changed:
            free = s.owner is None or s.expires_at <= time.monotonic()
            if free or s.owner == node_id:
                if s.owner != node_id:
                    s.epoch += 1
                s.owner, s.owner_url, s.expires_at = node_id, url, time.monotonic() + ttl_s
            return s.lease()

    def release(self, node_id: str) -> None:
        with self.store.changed:
            if self.store.owner == node_id:
                self.store.owner = self.store.owner_url = None

    def lease(self) -> Lease:
        with self.store.changed:
            return self.store.lease()

    def fence(self, node_id: str, epoch: int | None) -> None:
        self.fenced = None if epoch is None else (node_id, epoch)

    def wait_for_records(self, after_seq: int, timeout_s: float) -> int:
        with self.store.changed:
            self.store.changed.wait_for(lambda: self.store.last_seq > after_seq, timeout=timeout_s)
            return self.store.last_seq


class TestReferenceSharedJournal(SharedJournalContract):
    @pytest.fixture
    def make_journal(self) -> Callable[[], SharedJournal]:
        store = Store()
        return lambda: ReferenceSharedJournal(store)

"""An in-process shared journal for cluster tests that need no PostgreSQL: one thread-safe
in-memory store per view, shared by the journal objects of several Fusion apps in one process.

It keeps the promises of :class:`fustor_core.cluster.SharedJournal` the way the PostgreSQL
plugin does: the lease's expiry is kept by the *store's* clock (a monotonic one here), every
change of owner increases the epoch, a fenced append stores nothing unless the lease is still
the appender's at its epoch, and ``wait_for_records`` is woken by the commit. Faults are
injected per node: :meth:`SharedStore.cut` makes a node's every call fail as if the store were
unreachable (a partition), :meth:`SharedStore.steal` moves the lease to another node at once.

Plugged in as the ``fake-shared`` journal driver: ``journal: {driver: fake-shared, store: NAME}``
finds the :class:`SharedStores` registered under ``NAME`` in :data:`STORES`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from fustor_core import hookimpl
from fustor_core.cluster import Lease, NotOwner
from fustor_core.journal import Journal, JournalCorrupt, JournalRecord, JournalState, NewRecord, SnapshotInfo


@dataclass
class SharedStore:
    """One view's journal, snapshots and lease."""

    view_id: str = field(default_factory=lambda: "v-" + secrets.token_hex(6))
    created: bool = True
    last_seq: int = 0
    records: dict[int, JournalRecord] = field(default_factory=dict)
    snapshots: dict[int, tuple[list[bytes], float]] = field(default_factory=dict)
    owner: str | None = None
    owner_url: str | None = None
    epoch: int = 0
    expires_at: float = 0.0
    cut_off: set[str] = field(default_factory=set)
    """Nodes whose calls fail (a network partition between them and the store)."""
    appends_refused: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def cut(self, node: str) -> None:
        with self.lock:
            self.cut_off.add(node)

    def mend(self, node: str) -> None:
        with self.lock:
            self.cut_off.discard(node)

    def steal(self, node: str, url: str, ttl_s: float = 3600.0) -> int:
        """Give the lease to ``node`` now, whoever held it (a new epoch); returns the epoch."""
        with self.lock:
            self.owner, self.owner_url = node, url
            self.epoch += 1
            self.expires_at = time.monotonic() + ttl_s
            return self.epoch

    def lease_now(self) -> Lease:
        return Lease(self.owner, self.owner_url, self.epoch, self.expires_at - time.monotonic())


class SharedStores:
    """The stores of every view of one test cluster, by datastore name."""

    def __init__(self) -> None:
        self._stores: dict[str, SharedStore] = {}
        self._lock = threading.Lock()

    def __getitem__(self, datastore: str) -> SharedStore:
        with self._lock:
            return self._stores.setdefault(datastore, SharedStore())


STORES: dict[str, SharedStores] = {}


class FakeSharedJournal:
    """One node's journal object over a :class:`SharedStore`."""

    def __init__(self, store: SharedStore, node: str) -> None:
        self.store = store
        self.node = node
        self._fence: tuple[str, int] | None = None

    def _reach(self) -> None:
        """Called holding the lock: fail like an unreachable store for a node cut off."""
        if self.node in self.store.cut_off:
            raise ConnectionError(f"node {self.node!r} cannot reach the journal store")

    # -- Journal ----------------------------------------------------------------------------------

    def open(self) -> JournalState:
        s = self.store
        with s.lock:
            self._reach()
            created, s.created = s.created, False
            return JournalState(
                view_id=s.view_id,
                last_seq=s.last_seq,
                first_seq=min(s.records, default=s.last_seq + 1),
                snapshots=self._snapshots(),
                created=created,
            )

    def append(self, records: Sequence[NewRecord]) -> int:
        s = self.store
        with s.changed:
            self._reach()
            if self._fence is not None and (s.owner, s.epoch) != self._fence:
                s.appends_refused += 1
                raise NotOwner(f"node {self.node!r} no longer holds the lease at epoch {self._fence[1]}")
            for record in records:
                s.last_seq += 1
                s.records[s.last_seq] = JournalRecord(s.last_seq, record.time, record.kind, record.payload)
            s.changed.notify_all()
            return s.last_seq

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        s = self.store
        with s.lock:
            self._reach()
            return [s.records[seq] for seq in range(after_seq + 1, s.last_seq + 1) if seq in s.records][
                :limit
            ]

    def write_snapshot(self, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        kept = list(chunks)
        with self.store.lock:
            self._reach()
            self.store.snapshots[seq] = (kept, time.time())
        return SnapshotInfo(seq, time.time(), sum(map(len, kept)))

    def _snapshots(self) -> list[SnapshotInfo]:
        items = sorted(self.store.snapshots.items(), reverse=True)
        return [SnapshotInfo(seq, at, sum(map(len, chunks))) for seq, (chunks, at) in items]

    def snapshots(self) -> list[SnapshotInfo]:
        with self.store.lock:
            self._reach()
            return self._snapshots()

    def load_snapshot(self, seq: int) -> Iterator[bytes]:
        with self.store.lock:
            self._reach()
            if seq not in self.store.snapshots:
                raise JournalCorrupt(f"no snapshot {seq}")
            return iter(list(self.store.snapshots[seq][0]))

    def trim(self, *, before: float, keep_snapshots: int = 2) -> int:
        s = self.store
        with s.lock:
            self._reach()
            newest = max(s.snapshots, default=0)
            for seq in sorted(s.snapshots, reverse=True)[max(keep_snapshots, 1) :]:
                del s.snapshots[seq]
            doomed = [seq for seq, r in s.records.items() if seq <= newest and r.time < before]
            for seq in doomed:
                del s.records[seq]
        return len(doomed)

    def reset(self, reason: str) -> JournalState:
        raise AssertionError(f"a shared journal must not be reset by a test node ({reason})")

    def close(self) -> None:
        pass

    # -- SharedJournal ----------------------------------------------------------------------------

    def claim(self, node_id: str, url: str, ttl_s: float) -> Lease:
        s = self.store
        with s.lock:
            self._reach()
            now = time.monotonic()
            if s.owner is None or s.owner == node_id or s.expires_at <= now:
                if s.owner != node_id:
                    s.epoch += 1
                s.owner, s.owner_url, s.expires_at = node_id, url, now + ttl_s
            return s.lease_now()

    def release(self, node_id: str) -> None:
        s = self.store
        with s.lock:
            self._reach()
            if s.owner == node_id:
                s.owner, s.owner_url, s.expires_at = None, None, 0.0

    def lease(self) -> Lease:
        with self.store.lock:
            self._reach()
            return self.store.lease_now()

    def fence(self, node_id: str, epoch: int | None) -> None:
        self._fence = None if epoch is None else (node_id, epoch)

    def wait_for_records(self, after_seq: int, timeout_s: float) -> int:
        s = self.store
        with s.changed:
            self._reach()
            s.changed.wait_for(lambda: s.last_seq > after_seq, timeout_s)
            return s.last_seq


class FakeSharedJournalPlugin:
    """The ``fake-shared`` journal driver (``node`` is the node id the journal objects act for)."""

    def __init__(self, node: str) -> None:
        self.node = node

    @hookimpl
    def fustor_journal(self, datastore: str, driver: str, options: dict[str, Any]) -> Journal | None:
        if driver != "fake-shared":
            return None
        return FakeSharedJournal(STORES[options["store"]][datastore], self.node)

"""``PostgresJournal``: one view's journal in PostgreSQL, shared by every Fusion node serving it.

It is both a :class:`~fustor_core.journal.Journal` (records, snapshots, trimming, incarnations)
and a :class:`~fustor_core.cluster.SharedJournal` (the view's lease, fenced appends, following
the journal). The tables and statements are in :mod:`fustor_journal_postgres.schema`.

Sequence numbers are allocated by the statement that stores the records, from the view row's
``last_seq``, which it advances (see :data:`~fustor_journal_postgres.schema.APPEND`): they never
go back, even after every record was trimmed or a damaged one dropped, and two appenders (two
threads, two nodes) are serialised by the row lock, never given the same number. Each record
carries a CRC-32 of its kind and payload, checked on every read.

Connections, one per role (:class:`~fustor_journal_postgres.connections.Link`), each opened on
first use: ``writer`` (append, trim, reset), ``reader`` (read, list and load snapshots),
``snapshot`` (write_snapshot: a long transaction that must not hold up the other two) and
``lease`` (claim, release, lease: a renewal never waits behind an append or a replay);
``wait_for_records`` is woken through one LISTENing connection per process
(:mod:`fustor_journal_postgres.notifications`).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg

from fustor_core.cluster import Lease, NotOwner
from fustor_core.errors import FustorError
from fustor_core.journal import JournalCorrupt, JournalRecord, JournalState, NewRecord, SnapshotInfo
from fustor_core.logs import log_event
from fustor_journal_postgres import schema as sql
from fustor_journal_postgres.connections import Link
from fustor_journal_postgres.notifications import Notifications

logger = logging.getLogger(__name__)

TAIL_CHECKED = 16
"""How many of the newest records ``open`` checks (a write cut short can only damage the end)."""
TRIM_BATCH = 5000
"""Records deleted per transaction when trimming, so appends are never held up for long."""
CHUNKS_PER_FETCH = 16
"""Snapshot chunks fetched per query when loading (the reader's lock is released in between)."""
CHUNK_BATCH_BYTES = 4 << 20
"""Snapshot chunks are sent to the server in batches of about this many bytes (one round trip)."""
SHORT_TRANSACTION_SETTINGS = {"idle_in_transaction_session_timeout": "5s"}
"""For the writer connection: a client that stalls inside one of its (short) transactions must
not keep the view's row locked, or no other node could take the lease over."""
LEASE_SETTINGS = {**SHORT_TRANSACTION_SETTINGS, "lock_timeout": "2s", "statement_timeout": "5s"}
"""For the lease connection: a claim fails (and the caller retries) rather than wait long."""
RECHECK_S = 1.0
"""``wait_for_records`` re-reads the stored sequence at least this often, notification or not."""


def record_crc(kind: str, payload: bytes) -> int:
    """The checksum stored with a record (kind and payload)."""
    return zlib.crc32(payload, zlib.crc32(kind.encode()))


def new_view_id() -> str:
    return "v-" + secrets.token_urlsafe(12)


class PostgresJournal:
    """The journal of the view ``datastore`` in ``schema`` of the database at ``conninfo``."""

    def __init__(
        self, conninfo: str, datastore: str, *, schema: str = "fustor_journal", connect_timeout_s: float = 5.0
    ) -> None:
        self.datastore = datastore
        self.schema = schema
        self._s = sql.quote_schema(schema)
        self._stmt: dict[str, str] = {}

        def link(role: str, **kwargs: Any) -> Link:
            return Link(conninfo, role, connect_timeout_s=connect_timeout_s, **kwargs)

        self._writer = link("writer", server_settings=SHORT_TRANSACTION_SETTINGS)
        self._reader = link("reader")
        self._snapshot = link("snapshot")
        self._lease = link("lease", server_settings=LEASE_SETTINGS)
        self.links = (self._writer, self._reader, self._snapshot, self._lease)
        self._conninfo = conninfo
        self._connect_timeout_s = connect_timeout_s
        self._notifications: Notifications | None = None
        self._notifications_lock = threading.Lock()
        self._fence: tuple[str, int] | None = None
        self._fence_lock = threading.Lock()
        self._view_id = ""
        self._last_seq = 0
        self._opened = False

    def _q(self, statement: str, **parts: str) -> str:
        """A statement bound to this journal's schema (cached)."""
        key = statement + repr(sorted(parts.items()))
        bound = self._stmt.get(key)
        if bound is None:
            bound = self._stmt[key] = sql.bind(statement, self._s, **parts)
        return bound

    @property
    def _view(self) -> dict[str, Any]:
        return {"view": self.datastore}

    # -- opening ------------------------------------------------------------------------------

    def open(self) -> JournalState:
        problems: list[str] = []
        with self._writer.use() as db:
            sql.ensure_tables(db, self._s)
            created, view_id, last_seq = self._find_or_create_view(db, problems)
            problems.extend(self._drop_corrupt_tail(db))
        self._view_id, self._last_seq, self._opened = view_id, last_seq, True
        snapshots = self.snapshots()
        return JournalState(
            view_id=view_id,
            last_seq=last_seq,
            first_seq=self._first_seq(),
            snapshots=snapshots,
            created=created,
            problems=problems,
        )

    def _find_or_create_view(self, db: psycopg.Connection[Any], problems: list[str]) -> tuple[bool, str, int]:
        with db.transaction():
            row = db.execute(self._q(sql.SELECT_VIEW), self._view).fetchone()
            if row is not None and row[1] != sql.FORMAT:
                aside = f"{self.datastore}~aside-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
                for table in sql.TABLES:
                    db.execute(self._q(sql.SET_ASIDE, table=table), {**self._view, "aside": aside})
                problems.append(
                    f"the journal of this view has an unknown layout (format {row[1]}); its rows were"
                    f" kept under the view name {aside!r} and the view starts empty"
                )
                row = None
            if row is not None:
                return False, row[0], int(row[2])
            view_id = new_view_id()
            inserted = db.execute(
                self._q(sql.INSERT_VIEW), {**self._view, "view_id": view_id, "format": sql.FORMAT}
            ).fetchone()
            if inserted is None:  # another node created it a moment ago
                again = db.execute(self._q(sql.SELECT_VIEW), self._view).fetchone()
                assert again is not None
                return False, again[0], int(again[2])
            for table in ("records", "snapshot_chunks", "snapshots"):  # a row deleted by hand
                db.execute(self._q(sql.FORGET, table=table), self._view)
            return True, view_id, 0

    def _drop_corrupt_tail(self, db: psycopg.Connection[Any]) -> list[str]:
        """Check the newest records; drop the ones at the end that fail their checksum."""
        rows = db.execute(self._q(sql.TAIL), {**self._view, "limit": TAIL_CHECKED}).fetchall()
        bad = []
        for seq, kind, crc, payload in rows:
            if record_crc(kind, payload) == crc:
                break
            bad.append(seq)
        if not bad:
            return []
        db.execute(self._q(sql.DELETE_RECORDS), {**self._view, "seqs": bad})
        return [
            f"record {seq} (the newest) failed its checksum — cut short or overwritten; it was skipped"
            for seq in sorted(bad)
        ]

    def _first_seq(self) -> int:
        with self._reader.use() as db:
            row = db.execute(self._q(sql.FIRST_SEQ), self._view).fetchone()
        return int(row[0]) if row is not None and row[0] is not None else self._last_seq + 1

    # -- records ------------------------------------------------------------------------------

    def append(self, records: Sequence[NewRecord]) -> int:
        self._require_open()
        if not records:
            return self._last_seq
        with self._fence_lock:
            fence = self._fence
        params: dict[str, Any] = {
            **self._view,
            "n": len(records),
            "times": [r.time for r in records],
            "kinds": [r.kind for r in records],
            "crcs": [record_crc(r.kind, r.payload) for r in records],
            "payloads": [r.payload for r in records],
        }
        if fence is not None:
            params["owner"], params["epoch"] = fence
        statement = self._q(sql.APPEND, fence=sql.FENCE if fence is not None else "")
        with self._writer.use() as db:
            row = db.execute(statement, params).fetchone()
        if row is None:
            if fence is not None:
                raise NotOwner(
                    f"view {self.datastore!r}: node {fence[0]!r} no longer holds the lease at epoch"
                    f" {fence[1]}; the records were not stored"
                )
            raise FustorError(f"view {self.datastore!r}: its journal row is gone (deleted by hand?)")
        last = int(row[0])
        self._last_seq = last
        return last

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        self._require_open()
        with self._reader.use() as db:
            rows = db.execute(
                self._q(sql.READ), {**self._view, "after": after_seq, "limit": limit}, binary=True
            ).fetchall()
        out = []
        for seq, at, kind, crc, payload in rows:
            payload = bytes(payload)
            if record_crc(kind, payload) != crc:
                log_event(
                    logger,
                    logging.ERROR,
                    "journal record fails its checksum; skipped",
                    view=self.datastore,
                    seq=seq,
                )
                continue
            out.append(JournalRecord(seq=int(seq), time=float(at), kind=kind, payload=payload))
        return out

    # -- snapshots ----------------------------------------------------------------------------

    def write_snapshot(self, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        """One transaction: the chunks, then the header row, so a snapshot is visible (to every
        node) only complete, and a failure or a crash while writing leaves nothing behind."""
        self._require_open()
        written = time.time()
        with self._snapshot.use() as db, db.transaction():
            row = db.execute(self._q(sql.SELECT_VIEW), self._view).fetchone()
            if row is None or row[0] != self._view_id:
                raise FustorError(f"view {self.datastore!r}: the journal was reset meanwhile")
            if seq > int(row[2]):
                raise ValueError(f"snapshot stamped {seq} is ahead of the journal (last seq {row[2]})")
            db.execute(self._q(sql.DELETE_CHUNKS), {**self._view, "seqs": [seq]})
            db.execute(self._q(sql.DELETE_SNAPSHOTS), {**self._view, "seqs": [seq]})
            count = size = 0
            batch: list[dict[str, Any]] = []
            batch_bytes = 0
            with db.cursor() as cursor:
                for chunk in chunks:
                    batch.append(
                        {**self._view, "seq": seq, "chunk_no": count, "crc": zlib.crc32(chunk), "data": chunk}
                    )
                    count += 1
                    size += len(chunk)
                    batch_bytes += len(chunk)
                    if batch_bytes >= CHUNK_BATCH_BYTES:
                        cursor.executemany(self._q(sql.INSERT_CHUNK), batch)
                        batch, batch_bytes = [], 0
                if batch:
                    cursor.executemany(self._q(sql.INSERT_CHUNK), batch)
            db.execute(
                self._q(sql.INSERT_SNAPSHOT),
                {
                    **self._view,
                    "seq": seq,
                    "view_id": self._view_id,
                    "written_at": written,
                    "size": size,
                    "chunks": count,
                },
            )
        return SnapshotInfo(seq=seq, time=written, size=size)

    def snapshots(self) -> list[SnapshotInfo]:
        self._require_open()
        with self._reader.use() as db:
            rows = db.execute(self._q(sql.LIST_SNAPSHOTS), self._view).fetchall()
        return [SnapshotInfo(seq=int(seq), time=float(at), size=int(size)) for seq, at, size in rows]

    def load_snapshot(self, seq: int) -> Iterator[bytes]:
        self._require_open()
        return self._snapshot_chunks(seq)

    def _snapshot_chunks(self, seq: int) -> Iterator[bytes]:
        """Fetched a few chunks per query, holding the reader only for each query, so whoever
        consumes the chunks may read records between them."""
        where = {**self._view, "seq": seq}
        with self._reader.use() as db:
            header = db.execute(self._q(sql.SNAPSHOT_HEADER), where).fetchone()
        if header is None:
            raise JournalCorrupt(f"snapshot {seq}: not stored (trimmed, or never complete)")
        view_id, total = header
        if view_id != self._view_id:
            raise JournalCorrupt(f"snapshot {seq}: belongs to another incarnation of the view")
        expected = 0
        while expected < total:
            with self._reader.use() as db:
                rows = db.execute(
                    self._q(sql.SNAPSHOT_CHUNKS),
                    {**where, "from": expected, "limit": CHUNKS_PER_FETCH},
                    binary=True,
                ).fetchall()
            if not rows:
                raise JournalCorrupt(f"snapshot {seq}: ends after {expected} of {total} chunks")
            for chunk_no, crc, data in rows:
                if chunk_no != expected:
                    raise JournalCorrupt(f"snapshot {seq}: chunk {expected} is missing")
                chunk = bytes(data)
                if zlib.crc32(chunk) != crc:
                    raise JournalCorrupt(f"snapshot {seq}: chunk {chunk_no} fails its checksum")
                expected += 1
                yield chunk

    def trim(self, *, before: float, keep_snapshots: int = 2) -> int:
        snapshots = self.snapshots()
        if not snapshots:
            return 0
        old = [info.seq for info in snapshots[max(keep_snapshots, 1) :]]
        if old:
            with self._writer.use() as db, db.transaction():
                db.execute(self._q(sql.DELETE_SNAPSHOTS), {**self._view, "seqs": old})
                db.execute(self._q(sql.DELETE_CHUNKS), {**self._view, "seqs": old})
        removed = 0
        params = {**self._view, "upto": snapshots[0].seq, "before": before, "limit": TRIM_BATCH}
        while True:
            with self._writer.use() as db:
                count = db.execute(self._q(sql.TRIM_RECORDS), params).rowcount
            removed += count
            if count < TRIM_BATCH:
                return removed

    # -- lifecycle ----------------------------------------------------------------------------

    def reset(self, reason: str) -> JournalState:
        self._require_open()
        view_id = new_view_id()
        with self._writer.use() as db, db.transaction():
            db.execute(self._q(sql.NEW_INCARNATION), {**self._view, "view_id": view_id, "format": sql.FORMAT})
            for table in ("records", "snapshot_chunks", "snapshots"):
                db.execute(self._q(sql.FORGET, table=table), self._view)
            db.execute("SELECT pg_notify(%s, %s)", (sql.NOTIFY_CHANNEL, f"{self.datastore}:0"))
        self._view_id, self._last_seq = view_id, 0
        log_event(
            logger,
            logging.WARNING,
            "journal reset: the view starts empty",
            view=self.datastore,
            reason=reason,
            view_id=view_id,
        )
        return JournalState(view_id=view_id, last_seq=0, first_seq=1, created=True)

    def close(self) -> None:
        for link in self.links:
            link.close()
        with self._notifications_lock:
            notifications, self._notifications = self._notifications, None
        if notifications is not None:
            notifications.release()
        self._opened = False

    def _require_open(self) -> None:
        if not self._opened:
            raise FustorError("the journal is not open")

    # -- the shared journal: lease, fencing, following ----------------------------------------

    def claim(self, node_id: str, url: str, ttl_s: float) -> Lease:
        self._require_open()
        if not ttl_s > 0:
            raise ValueError("ttl_s must be positive")
        with self._lease.use() as db:
            row = db.execute(
                self._q(sql.CLAIM), {**self._view, "node": node_id, "url": url, "ttl": float(ttl_s)}
            ).fetchone()
        return self._lease_from(row)

    def release(self, node_id: str) -> None:
        self._require_open()
        with self._lease.use() as db:
            db.execute(self._q(sql.RELEASE), {**self._view, "node": node_id})

    def lease(self) -> Lease:
        self._require_open()
        with self._lease.use() as db:
            row = db.execute(self._q(sql.LEASE), self._view).fetchone()
        return self._lease_from(row)

    def _lease_from(self, row: tuple[Any, ...] | None) -> Lease:
        if row is None:
            raise FustorError(f"view {self.datastore!r}: its journal row is gone (deleted by hand?)")
        owner, owner_url, epoch, remaining = row
        return Lease(owner=owner, owner_url=owner_url, epoch=int(epoch), expires_in_s=float(remaining))

    def fence(self, node_id: str, epoch: int | None) -> None:
        with self._fence_lock:
            self._fence = None if epoch is None else (node_id, int(epoch))

    def wait_for_records(self, after_seq: int, timeout_s: float) -> int:
        """The stored ``last_seq`` first (records may already be there), then the process's
        shared listener (:mod:`~fustor_journal_postgres.notifications`) until a notification
        names this view, and the stored number again — never the notification's own number,
        since a view of the same name elsewhere notifies the same channel. Also re-reads every
        :data:`RECHECK_S` seconds, in case the listener is not connected."""
        self._require_open()
        deadline = time.monotonic() + max(0.0, timeout_s)
        notifications = self._notifications_started(deadline)
        while True:
            mark = notifications.mark(self.datastore)
            newest = self._stored_last_seq()
            remaining = deadline - time.monotonic()
            if newest > after_seq or remaining <= 0:
                return newest
            notifications.wait(self.datastore, mark, min(remaining, RECHECK_S))

    def _notifications_started(self, deadline: float) -> Notifications:
        with self._notifications_lock:
            if self._notifications is None:
                self._notifications = Notifications.acquire(
                    self._conninfo, sql.NOTIFY_CHANNEL, connect_timeout_s=self._connect_timeout_s
                )
            notifications = self._notifications
        # the first wait of a process: nothing committed after the stored read may go unseen
        notifications.wait_listening(max(0.0, min(deadline - time.monotonic(), self._connect_timeout_s)))
        return notifications

    def _stored_last_seq(self) -> int:
        with self._reader.use() as db:
            row = db.execute(self._q(sql.LAST_SEQ), self._view).fetchone()
        return int(row[0]) if row is not None else 0

    def __repr__(self) -> str:
        return f"PostgresJournal(view={self.datastore!r}, schema={self.schema!r})"

"""The journal contract: what a journal plugin keeps so that a Fusion view survives a restart.

A Fusion view is a deterministic state machine: given the same inputs at the same Fusion times,
the merge rules reach the same tree and the same lists. So Fusion does not store the tree after
every change; it writes each *input* of the view (an applied event, a snapshot/audit signal,
sentinel feedback, a leader change, a tick) as a **record** to the view's journal before it
answers the agent, and from time to time a **snapshot** of the whole view stamped with the
sequence number of the last record it contains. On start it loads the newest snapshot and
replays the records after it.

A journal plugin implements :class:`Journal` (one object per view) and answers the
:func:`~fustor_core.hookspecs.fustor_journal` hook. The payloads are opaque bytes to the journal
(Fusion encodes and compresses them); what the journal owns is *order and durability*:

* **Sequence numbers** are allocated by the journal, in the same write (transaction) that stores
  the records: consecutive, strictly increasing, never reused for the life of an incarnation (not
  even after trimming, or after a corrupt last record was dropped).
* **Durable when it returns**: once :meth:`Journal.append` returns, the records survive a crash
  of the Fusion process (the plugin's README says what it promises against power loss).
* **Incarnations**: a journal created empty gets a new random ``view_id``. Whoever remembers a
  position in a view (a change-feed cursor, an agent's cache) remembers the ``view_id`` with it
  and starts over when it changes; :meth:`Journal.reset` makes a new incarnation.
* **Never refuse to start**: a corrupt or truncated record is detected (checksums), reported in
  :attr:`JournalState.problems` or the logs, and skipped; a store that cannot be read at all is
  set aside and replaced by an empty one (a new incarnation) — the agents re-send what is lost.

Fusion calls the blocking methods from worker threads: :meth:`~Journal.append` from one thread
at a time, while :meth:`~Journal.write_snapshot`, :meth:`~Journal.load_snapshot`,
:meth:`~Journal.read` and :meth:`~Journal.trim` may run in another thread at the same time.
Several Fusion nodes may share one journal store (one writes a view, others read it), so nothing
in this contract assumes the reader is the process that wrote.

``fustor_core.testing.journal_contract.JournalContract`` is the test suite every implementation passes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from fustor_core.errors import FustorError


@dataclass(frozen=True, slots=True)
class NewRecord:
    """A record to append: its sequence number is given by the journal."""

    time: float
    """Fusion's clock when the input was applied (replay pins the view's clock to it)."""
    kind: str
    """What the input was (``event``, ``signal``, ``sentinel``, ``leader``, ``tick``...); short."""
    payload: bytes
    """The input, encoded by Fusion (opaque to the journal)."""


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """A stored record."""

    seq: int
    time: float
    kind: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class SnapshotInfo:
    """A stored snapshot of the whole view."""

    seq: int
    """The last record the snapshot contains: replay resumes with the record after it."""
    time: float
    """Wall-clock time the snapshot was written."""
    size: int
    """Bytes it occupies in the store."""


@dataclass
class JournalState:
    """What :meth:`Journal.open` found."""

    view_id: str
    """The incarnation: random, created when the journal was created (or reset) empty."""
    last_seq: int
    """The highest sequence number allocated so far (0: none yet)."""
    first_seq: int
    """The oldest record still kept (``last_seq + 1`` when none is kept)."""
    snapshots: list[SnapshotInfo] = field(default_factory=list)
    """Stored snapshots, newest first."""
    created: bool = False
    """True when this open created the journal (or replaced an unreadable one): the view starts empty."""
    problems: list[str] = field(default_factory=list)
    """What was found wrong and how it was dealt with (a corrupt last record skipped, an
    unreadable store set aside...), one sentence each, for the operator."""


class JournalCorrupt(FustorError):
    """Stored data failed its integrity check (a snapshot truncated or altered, a bad record)."""

    code = "journal_corrupt"


@runtime_checkable
class Journal(Protocol):
    """The journal of one view. Every method blocks; Fusion runs them in worker threads."""

    def open(self) -> JournalState:
        """Open (creating if needed) and recover: check the newest records, drop a corrupt or
        truncated last record, and say what is there. Called once, before anything else."""
        ...

    def append(self, records: Sequence[NewRecord]) -> int:
        """Store ``records`` in order, in one durable write, and return the sequence number of
        the last one (the others are the consecutive numbers before it). Fusion groups the
        records of concurrent requests into one call (group commit)."""
        ...

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        """Up to ``limit`` records with ``seq > after_seq``, in order. A record that fails its
        integrity check is skipped and logged (the gap in ``seq`` shows where)."""
        ...

    def write_snapshot(self, seq: int, chunks: Iterable[bytes]) -> SnapshotInfo:
        """Store a snapshot of the view as of record ``seq`` (at most :attr:`JournalState.last_seq`
        as far as the journal knows). ``chunks`` is consumed lazily (it may be large); the
        snapshot becomes visible to :meth:`snapshots` only once complete and durable."""
        ...

    def snapshots(self) -> list[SnapshotInfo]:
        """Complete snapshots, newest first."""
        ...

    def load_snapshot(self, seq: int) -> Iterator[bytes]:
        """The chunks of the snapshot stamped ``seq``, in the order written. Raises
        :class:`JournalCorrupt` (possibly after yielding some chunks) if it fails its check."""
        ...

    def trim(self, *, before: float, keep_snapshots: int = 2) -> int:
        """Forget records that the newest snapshot contains *and* that are older than ``before``
        (a time), and all but the newest ``keep_snapshots`` snapshots. Returns the records removed.
        Records after the newest snapshot are never removed."""
        ...

    def reset(self, reason: str) -> JournalState:
        """Forget everything and start a new incarnation (new ``view_id``, no records, no
        snapshots); ``reason`` is logged. Used when the stored view cannot be rebuilt."""
        ...

    def close(self) -> None:
        """Release files and connections; the object is not used afterwards."""
        ...


__all__ = ["Journal", "JournalCorrupt", "JournalRecord", "JournalState", "NewRecord", "SnapshotInfo"]

"""The shared-journal contract: what lets several Fusion nodes serve one view.

A journal plugin whose store several machines reach (PostgreSQL) can let Fusion run as a
cluster: every node configured for a view keeps its own copy of the view, but only one node —
the **owner** — applies inputs and appends records; the others are **replicas** that follow the
journal and replay its records. Ownership is decided in the shared store, not by the nodes, so
two nodes never both believe they own a view for longer than their leases let them, and a record
from a node that lost its lease is never stored:

* **Lease.** :meth:`SharedJournal.claim` takes the view for a node when nobody holds it or the
  holder's lease ran out, renews it when the node already holds it, and otherwise says who does.
  The lease's expiry is kept by the store's clock, so the nodes' clocks do not matter. Each change
  of owner increases the lease's **epoch**.
* **Fencing.** After a successful claim the owner calls :meth:`SharedJournal.fence` with the
  epoch it holds; from then on :meth:`~fustor_core.journal.Journal.append` stores records only in
  a transaction that finds the lease still held by that node at that epoch, and raises
  :class:`NotOwner` otherwise (nothing stored). A node stalled past its lease therefore cannot
  write after another took over, whatever its own clock says.
* **Following.** :meth:`SharedJournal.wait_for_records` blocks until the journal holds a record
  after a given sequence number (a notification from the owner's commit wakes it), so a replica
  applies new records within milliseconds without polling the store in a tight loop.

The owner also stops acting as owner on its own once a renewal has not succeeded for the lease's
length measured from when the last successful renewal *started* (Fusion does that, not the
plugin): with fencing, that bounds how long a stalled owner may keep answering.

``fustor_core.testing.shared_journal_contract.SharedJournalContract`` is the test suite every
implementation passes, beside :class:`~fustor_core.testing.journal_contract.JournalContract`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from fustor_core.errors import FustorError
from fustor_core.journal import Journal


@dataclass(frozen=True, slots=True)
class Lease:
    """Who owns a view, as the shared store said at one moment."""

    owner: str | None
    """The owner's node id (None: nobody holds the view, or the last holder released it)."""
    owner_url: str | None
    """The owner's advertised base URL (where its agents and clients are sent)."""
    epoch: int
    """Increases by one at every change of owner (0: never owned); the fencing token."""
    expires_in_s: float
    """Seconds left on the lease when the store answered (≤ 0: expired, anyone may claim it)."""

    def held_by(self, node_id: str) -> bool:
        """The lease is ``node_id``'s and had not run out when read."""
        return self.owner == node_id and self.expires_in_s > 0


class NotOwner(FustorError):
    """An append was refused: the appending node no longer holds the view's lease at its epoch."""

    code = "not_owner"


@runtime_checkable
class SharedJournal(Journal, Protocol):
    """A :class:`~fustor_core.journal.Journal` several Fusion nodes share. Every method blocks;
    Fusion calls them from worker threads, :meth:`wait_for_records` from a thread of its own."""

    def claim(self, node_id: str, url: str, ttl_s: float) -> Lease:
        """Take or renew the view's lease for ``node_id`` (advertised at ``url``) for ``ttl_s``
        seconds when it is free, expired or already ``node_id``'s; otherwise change nothing. Returns
        the lease as it stands after the call (``lease.held_by(node_id)`` says whether it is
        ours). One transaction; raises if the store cannot be reached."""
        ...

    def release(self, node_id: str) -> None:
        """Give the lease up now if ``node_id`` holds it (a clean stop), so another node can take
        the view without waiting for the expiry."""
        ...

    def lease(self) -> Lease:
        """The lease as it stands (no change)."""
        ...

    def fence(self, node_id: str, epoch: int | None) -> None:
        """Store appended records only while ``node_id`` holds the lease at ``epoch`` (checked in
        each append's transaction; :class:`NotOwner` otherwise). ``None`` lifts the fence — for a
        journal used by a single node; a clustered owner always fences."""
        ...

    def wait_for_records(self, after_seq: int, timeout_s: float) -> int:
        """Block until the journal holds a record with ``seq > after_seq`` or ``timeout_s``
        passes; return the newest sequence number known (which may be ``after_seq`` or less on a
        timeout). Woken by the appending node's commit, not by polling."""
        ...


__all__ = ["Lease", "NotOwner", "SharedJournal"]

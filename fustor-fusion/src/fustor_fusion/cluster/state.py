"""A view's role in the cluster and what this node knows of its lease.

The lease is learnt at every claim (each node claims every ``renew_interval_s``, owner or not),
with the time it was read, so "who owns the view" is answered without asking the store on every
request; once the known lease has run out the owner is unknown (503 ``no_owner``) until the next
claim says who took it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from fustor_core.cluster import Lease
from fustor_core.errors import FustorError


class Role(StrEnum):
    """What a node does for a view."""

    SINGLE = "single"
    """No cluster: the node owns the view alone."""
    OWNER = "owner"
    """Holds the view's lease: takes ingest, records, ticks, snapshots."""
    REPLICA = "replica"
    """Follows the journal; sends ingest to the owner."""


class NotOwnerRefusal(FustorError):
    """Ingest (or ``fresh=true``) reached a node that does not own the view: 307 to the owner."""

    status = 307
    code = "not_owner"

    def __init__(self, message: str, *, owner: str, owner_url: str) -> None:
        super().__init__(message)
        self.owner = owner
        self.owner_url = owner_url


class NoOwner(FustorError):
    """Nobody owns the view right now (the lease is free or ran out, nobody took it yet): 503."""

    status = 503
    code = "no_owner"
    headers = {"Retry-After": "1"}


class ClusterState:
    """One view's role, lease and lag on this node."""

    def __init__(
        self, name: str, node_id: str, url: str, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.node_id = node_id
        self.url = url
        self.role = Role.REPLICA
        self.epoch: int | None = None
        """The epoch this node owns the view at (None when it does not)."""
        self.takeovers = 0
        """How many times this node took the view over since it started."""
        self.journal_seq = 0
        """The newest record the journal is known to hold."""
        self._clock = clock
        self._lease: Lease | None = None
        self._lease_read_at = 0.0
        self._learnt: deque[tuple[int, float]] = deque()
        """(journal seq, when first known) for records not applied yet: the lag's age."""

    # -- the lease ------------------------------------------------------------------------------

    def learn(self, lease: Lease, read_at: float) -> None:
        """A claim (started at ``read_at`` on this node's monotonic clock) answered ``lease``."""
        self._lease = lease
        self._lease_read_at = read_at

    def owner(self) -> tuple[str, str] | None:
        """``(node id, url)`` of the view's owner as last known, None when nobody holds it now."""
        if self.role is Role.OWNER:
            return None
        lease = self._lease
        if lease is None or lease.owner is None or lease.owner_url is None:
            return None
        if self._clock() - self._lease_read_at >= lease.expires_in_s:
            return None
        if lease.owner == self.node_id:  # our own lease, but we do not act as owner (stepping down)
            return None
        return lease.owner, lease.owner_url

    def refusal(self, what: str) -> FustorError:
        """The answer for ``what`` (ingest...) on a node that does not own the view."""
        owner = self.owner()
        if owner is None:
            return NoOwner(
                f"view {self.name!r} has no owner right now (a node is taking it over); retry shortly"
            )
        node, url = owner
        return NotOwnerRefusal(
            f"view {self.name!r} is owned by node {node!r}; {what} goes to {url}", owner=node, owner_url=url
        )

    # -- lag --------------------------------------------------------------------------------------

    def journal_has(self, seq: int, applied: int) -> None:
        """The journal holds records up to ``seq`` (the view applied up to ``applied``)."""
        if seq > self.journal_seq:
            self.journal_seq = seq
            if seq > applied:
                self._learnt.append((seq, self._clock()))

    def caught_up_to(self, applied: int) -> None:
        """The view applied records up to ``applied``."""
        self.journal_seq = max(self.journal_seq, applied)
        learnt = self._learnt
        while learnt and learnt[0][0] <= applied:
            learnt.popleft()

    def lag(self, applied: int) -> tuple[int, float]:
        """``(records not applied, age in seconds of the oldest of them)``."""
        if self.role is Role.OWNER:
            return 0, 0.0
        behind = max(0, self.journal_seq - applied)
        if not behind:
            return 0, 0.0
        # the oldest record not applied yet became known no later than the first entry still due
        since = self._learnt[0][1] if self._learnt else self._clock()
        return behind, round(max(0.0, self._clock() - since), 3)

    def describe(self, applied: int) -> dict[str, Any]:
        """For ``/readyz`` and the view's stats."""
        behind, age = self.lag(applied)
        owner = (self.node_id, self.url) if self.role is Role.OWNER else self.owner()
        return {
            "role": str(self.role),
            "owner": owner[0] if owner else None,
            "owner_url": owner[1] if owner else None,
            "epoch": self.epoch,
            "journal_seq": max(self.journal_seq, applied),
            "lag_records": behind,
            "lag_s": age,
            "takeovers": self.takeovers,
        }

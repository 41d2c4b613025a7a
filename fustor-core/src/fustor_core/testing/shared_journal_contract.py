"""The contract test suite of :mod:`fustor_core.cluster`: every shared journal passes it.

Subclass :class:`SharedJournalContract` in the plugin's tests and provide the ``make_journal``
fixture, as for :class:`~fustor_core.testing.journal_contract.JournalContract`: a callable
returning a *new* object over the *same* storage each time. Two objects made by it stand for two
Fusion nodes serving one view (each test opens them and closes them)::

    class TestPostgresSharedJournal(SharedJournalContract):
        @pytest.fixture
        def make_journal(self, schema):
            return lambda: PostgresJournal(URL, "demo", schema=schema)

One test per promise of :class:`~fustor_core.cluster.SharedJournal`: the lease (claim, renew,
expiry by the store's clock, release, the epoch), fencing (an append of a node that lost the lease
stores nothing), following (``wait_for_records`` woken by another node's commit) and mutual
exclusion under concurrent claims. Leases in these tests last a fraction of a second
(:attr:`SharedJournalContract.short_ttl_s`); every wait has a deadline.

Imported by tests only (it needs pytest); core's pytest plugin registers it for assertion
rewriting, so a failure shows the values compared.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from fustor_core.cluster import Lease, NotOwner, SharedJournal
from fustor_core.journal import NewRecord
from fustor_core.testing.helpers import wait_for
from fustor_core.testing.journal_contract import records

MakeJournal = Callable[[], SharedJournal]
OpenNodes = Callable[[int], list[SharedJournal]]

LONG_TTL_S = 30.0
"""A lease that does not run out during a test."""


class SharedJournalContract:
    """What Fusion's cluster mode relies on from a shared journal, one test per promise."""

    short_ttl_s = 0.3
    """A lease short enough to watch it run out (by the store's clock)."""

    @pytest.fixture
    def make_journal(self) -> MakeJournal:
        raise NotImplementedError("a shared journal plugin's tests provide the make_journal fixture")

    @pytest.fixture
    def nodes(self, make_journal: MakeJournal) -> Iterator[OpenNodes]:
        """``nodes(n)``: ``n`` opened objects over the same view, closed after the test."""
        opened: list[SharedJournal] = []

        def open_nodes(n: int) -> list[SharedJournal]:
            made = [make_journal() for _ in range(n)]
            for journal in made:
                opened.append(journal)
                journal.open()
            return made

        yield open_nodes
        for journal in opened:
            journal.close()

    @staticmethod
    def expire(journal: SharedJournal, holder: str, timeout: float = 10.0) -> Lease:
        """Wait (with a deadline) until ``holder``'s lease has run out by the store's clock."""

        def lapsed() -> Lease | None:
            lease = journal.lease()
            return lease if lease.owner == holder and lease.expires_in_s <= 0 else None

        lease = wait_for(lapsed, timeout=timeout, what=f"{holder}'s lease to run out")
        assert lease is not None
        return lease

    # -- the lease --------------------------------------------------------------------------------

    def test_a_free_view_is_claimed_at_epoch_1(self, nodes: OpenNodes) -> None:
        (a,) = nodes(1)
        assert isinstance(a, SharedJournal)
        before = a.lease()
        assert (before.owner, before.owner_url, before.epoch) == (None, None, 0)
        assert not before.held_by("a")
        lease = a.claim("a", "http://a.example:8102", LONG_TTL_S)
        assert lease.held_by("a")
        assert (lease.owner, lease.owner_url, lease.epoch) == ("a", "http://a.example:8102", 1)
        assert 0 < lease.expires_in_s <= LONG_TTL_S
        looked = a.lease()
        assert (looked.owner, looked.owner_url, looked.epoch) == ("a", "http://a.example:8102", 1)
        assert looked.held_by("a")

    def test_another_node_is_told_who_holds_the_view(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.claim("a", "http://a:1", LONG_TTL_S)
        told = b.claim("b", "http://b:1", LONG_TTL_S)
        assert not told.held_by("b")
        assert (told.owner, told.owner_url, told.epoch) == ("a", "http://a:1", 1)
        assert told.expires_in_s > 0
        assert b.lease().owner == "a", "a refused claim changes nothing"

    def test_after_the_lease_runs_out_another_node_takes_over_at_the_next_epoch(
        self, nodes: OpenNodes
    ) -> None:
        a, b = nodes(2)
        assert a.claim("a", "http://a:1", self.short_ttl_s).epoch == 1
        expired = self.expire(b, "a")
        assert not expired.held_by("a"), "a lease that ran out is held by nobody"
        taken = b.claim("b", "http://b:1", LONG_TTL_S)
        assert taken.held_by("b") and taken.epoch == 2 and taken.owner_url == "http://b:1"
        late = a.claim("a", "http://a:1", LONG_TTL_S)
        assert not late.held_by("a") and late.owner == "b", "the former owner is told it lost the view"

    def test_renewing_keeps_the_epoch_and_extends_the_lease(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        first = a.claim("a", "http://a:1", self.short_ttl_s)
        renewed = a.claim("a", "http://a:1", LONG_TTL_S)
        assert renewed.held_by("a") and renewed.epoch == first.epoch == 1
        assert renewed.expires_in_s > self.short_ttl_s
        wait_for(  # past the first lease's end, by the store's clock: the renewal must hold
            lambda: a.lease().expires_in_s < renewed.expires_in_s - 1.5 * self.short_ttl_s,
            what="the first lease's end",
        )
        assert not b.claim("b", "http://b:1", LONG_TTL_S).held_by("b")
        assert a.claim("a", "http://a:1", LONG_TTL_S).epoch == 1

    def test_a_node_renewing_its_own_lapsed_lease_keeps_the_epoch(self, nodes: OpenNodes) -> None:
        (a,) = nodes(1)
        a.claim("a", "http://a:1", self.short_ttl_s)
        self.expire(a, "a")
        again = a.claim("a", "http://a:1", LONG_TTL_S)
        assert again.held_by("a") and again.epoch == 1, "nobody else owned it meanwhile"

    def test_release_lets_another_node_take_the_view_at_once(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.claim("a", "http://a:1", LONG_TTL_S)
        b.release("b")  # not b's: nothing happens
        assert a.lease().held_by("a")
        a.release("a")
        released = b.lease()
        assert released.owner is None and not released.held_by("a")
        taken = b.claim("b", "http://b:1", LONG_TTL_S)
        assert taken.held_by("b") and taken.epoch == 2

    def test_lease_changes_nothing(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.claim("a", "http://a:1", self.short_ttl_s)
        self.expire(b, "a")
        for _ in range(3):
            looked = b.lease()
            assert (looked.owner, looked.epoch) == ("a", 1) and looked.expires_in_s <= 0

    # -- fencing --------------------------------------------------------------------------------

    def test_a_fenced_append_after_a_takeover_raises_not_owner_and_stores_nothing(
        self, nodes: OpenNodes
    ) -> None:
        a, b = nodes(2)
        lease = a.claim("a", "http://a:1", self.short_ttl_s)
        a.fence("a", lease.epoch)
        assert a.append(records(2)) == 2, "the owner appends while it holds the lease"
        self.expire(b, "a")
        taken = b.claim("b", "http://b:1", LONG_TTL_S)
        assert taken.held_by("b")
        with pytest.raises(NotOwner):
            a.append(records(3))
        assert [r.seq for r in b.read(0, 100)] == [1, 2], "nothing of the refused append is stored"
        b.fence("b", taken.epoch)
        assert b.append(records(1)) == 3, "the refused append used no sequence number"

    def test_a_fenced_append_after_a_release_raises_not_owner(self, nodes: OpenNodes) -> None:
        (a,) = nodes(1)
        a.fence("a", a.claim("a", "http://a:1", LONG_TTL_S).epoch)
        a.release("a")
        with pytest.raises(NotOwner):
            a.append(records(1))
        assert a.read(0, 10) == []

    def test_unfenced_and_correctly_fenced_appends_are_stored(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        assert a.append(records(1)) == 1, "a journal nobody fenced takes appends (a single node)"
        lease = a.claim("a", "http://a:1", LONG_TTL_S)
        a.fence("a", lease.epoch)
        assert a.append(records(2)) == 3
        a.fence("a", lease.epoch + 1)
        with pytest.raises(NotOwner):
            a.append(records(1))
        a.fence("a", None)
        assert a.append(records(1)) == 4, "fence(None) lifts the fence"
        assert [r.seq for r in b.read(0, 10)] == [1, 2, 3, 4]

    # -- following ------------------------------------------------------------------------------

    def test_wait_for_records_returns_at_once_when_records_are_there(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.append(records(3))
        started = time.monotonic()
        assert b.wait_for_records(1, 30.0) == 3
        assert b.wait_for_records(0, 0.0) == 3
        assert time.monotonic() - started < 5.0

    def test_wait_for_records_returns_on_timeout(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.append(records(2))
        started = time.monotonic()
        assert b.wait_for_records(2, 0.3) <= 2
        assert 0.25 <= time.monotonic() - started < 5.0

    def test_wait_for_records_wakes_when_another_node_appends(self, nodes: OpenNodes) -> None:
        a, b = nodes(2)
        a.append(records(1))
        b.wait_for_records(0, 1.0)  # b is following from here on
        got: list[tuple[int, float]] = []

        def follow() -> None:
            got.append((b.wait_for_records(1, 30.0), time.monotonic()))

        follower = threading.Thread(target=follow)
        follower.start()
        time.sleep(0.2)  # give the follower time to block (the other order is the test above)
        assert got == [], "the follower waits while there is nothing new"
        appended_at = time.monotonic()
        a.append(records(2))
        follower.join(timeout=30.0)
        assert not follower.is_alive()
        (newest, woke_at) = got[0]
        assert newest == 3
        assert woke_at - appended_at < 5.0, "woken by the append, not by the 30 s timeout"

    # -- mutual exclusion -----------------------------------------------------------------------

    def test_two_nodes_claiming_concurrently_never_both_hold_the_view(self, nodes: OpenNodes) -> None:
        """Each node loops: claim a short lease; when held, append fenced; sometimes release.
        Every epoch belongs to one node only, and the stored records' epochs never go back."""
        pair = nodes(2)
        owners_of_epoch: dict[int, set[str]] = {}
        lock = threading.Lock()
        errors: list[BaseException] = []
        start = threading.Barrier(2)

        def contend(journal: SharedJournal, node: str) -> None:
            try:
                start.wait()
                for i in range(40):
                    lease = journal.claim(node, f"http://{node}:1", 0.05)
                    if not lease.held_by(node):
                        continue
                    with lock:
                        owners_of_epoch.setdefault(lease.epoch, set()).add(node)
                    journal.fence(node, lease.epoch)
                    with contextlib.suppress(NotOwner):  # lost meanwhile: nothing stored
                        journal.append([NewRecord(time=float(lease.epoch), kind=node, payload=b"")])
                    if i % 3 == 0:
                        journal.release(node)
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=contend, args=(j, n)) for j, n in zip(pair, "ab", strict=True)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60.0)
        assert not errors
        assert owners_of_epoch, "somebody held the view"
        shared = {epoch: who for epoch, who in owners_of_epoch.items() if len(who) > 1}
        assert not shared, "one epoch, two owners"
        stored = pair[0].read(0, 1000)
        epochs = [int(r.time) for r in stored]
        assert epochs == sorted(epochs), "a record of an older epoch landed after a newer one"
        for record in stored:
            assert record.kind in owners_of_epoch[int(record.time)], "stored by a node that held that epoch"

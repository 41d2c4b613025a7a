"""Two nodes never own a view at once, even when the owner's PostgreSQL connections stall.

Node a reaches PostgreSQL through a stall proxy, node b directly; a owns the view and a client
writes through the cluster all along. Then the proxy stalls: a's connections stay open but
nothing passes (a network fault, not a crash). What must happen, and is checked:

* a stops acting as owner within ``lease_s`` of the stall (it cannot renew): its ``/readyz`` no
  longer says ``owner``, and it acknowledges nothing sent after the stall (nothing could be
  durable);
* b owns the view once the lease has run out, not before, and within 10 s after;
* while both answer, at no moment did both say they own the view (``OwnershipWatch``);
* after the stall ends, what a still had in flight reaches PostgreSQL late and is refused
  (fencing): none of the rows sent to a after the stall is in any view, and a follows b's
  journal as a replica with the same view as b; every acknowledged batch is in both.

The writer pushes back to back, so the stall always catches an append in flight. Each protection
was taken away once on node a by a test-only ``sitecustomize`` (not kept in the suite):

* the postgres journal's fence lifted (``fence(node, epoch)`` made ``fence(node, None)``): failed
  three times out of three — the batch in flight was stored after b's takeover, so it is in a's
  view (a follows the journal) and not in b's;
* Fusion's own step-down disabled (``ClusterMember.step_down`` a no-op): failed — "two owners at
  once", a still saying ``owner`` while b did;
* before Fusion's journal writer kept shared-journal appends off its event loop, the stalled
  append froze a's event loop: ``/readyz`` stopped answering and no step-down could happen.

With the protections the test passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlsplit

from cluster import AckingWriter, Cluster, ClusterNode, OwnershipWatch, keys, shared_postgres_url, view_paths
from stallproxy import StallProxy

from fustor_core.testing import wait_for

DS = "acks"
LEASE_S = 2.0
RENEW_S = 0.5


def let_go(node: ClusterNode) -> bool:
    """``node`` answers ``/readyz`` and does not say it owns the view: a replica, or a 503 while
    it rebuilds its view from a journal it cannot reach yet."""
    body = node.readyz()
    return body is not None and ((body.get("views") or {}).get(DS) or {}).get("role") != "owner"


def test_a_stalled_owner_steps_down_before_another_takes_over_and_its_late_appends_are_refused(
    make_cluster: Callable[..., Cluster],
) -> None:
    url = shared_postgres_url()
    server = urlsplit(url.replace("+psycopg", ""))
    with StallProxy(server.hostname or "127.0.0.1", server.port or 5432) as proxy:
        cluster = make_cluster(
            size=2,
            datastores=(DS,),
            lease_s=LEASE_S,
            renew_interval_s=RENEW_S,
            journal_urls={"fusion-a": proxy.rewrite(url)},
        )
        a, b = cluster.nodes
        assert cluster.wait_owner(DS) is a  # the first node started owns
        writer = AckingWriter(cluster.urls, ingest_key=keys(DS, "acks")[0], rows_per_batch=5, timeout_s=3)
        with OwnershipWatch(cluster, [DS]) as watch:
            writer.start()  # back to back: the stall catches an append in flight
            writer.wait_acked(20, 20)

            stalled_at = time.time()
            proxy.stall()
            stepped_down: float | None = None
            try:
                wait_for(lambda: let_go(a), LEASE_S + 2, "the stalled owner to step down")
                stepped_down = time.time() - stalled_at
            except TimeoutError:
                a_said = a.readyz()  # None: no answer at all (its event loop waits on the stall?)
            taken: float = wait_for(
                lambda: watch.first_seen(DS, "fusion-b", after=stalled_at), LEASE_S + 12, "b to own the view"
            )
            assert not watch.overlaps, f"two owners at once: {watch.overlaps}"
            assert stepped_down is not None, f"a never let go: its /readyz said {a_said}; {watch.unanswered}"
            assert cluster.wait_owner(DS, 5, exclude=(a,)) is b
            writer.wait_acked(20, 20)  # b takes the writes now

            proxy.resume()
            wait_for(lambda: a.role(DS) == "replica", 30, "the old owner to follow as a replica")
            writer.stop()
            cluster.wait_applied(DS, writer.max_acked_seq)
        print(
            f"stalled at 0: a stepped down at {stepped_down:.2f} s, b owned at {taken - stalled_at:.2f} s "
            f"(lease {LEASE_S} s, renewal every {RENEW_S} s); {watch.rounds} ownership polls"
        )

        assert watch.overlaps == [], watch.overlaps
        assert not watch.unanswered.get("fusion-a"), f"a's /readyz hung: {watch.unanswered}"
        assert stepped_down <= LEASE_S + 0.3, stepped_down  # + the poll's resolution
        assert taken - stalled_at >= LEASE_S - RENEW_S - 0.1, "b took over before a's lease ran out"
        assert taken - stalled_at <= LEASE_S + 10

        after_stall = [batch for batch in writer.batches if batch.started > stalled_at + 0.01]
        acked_by_a = [batch.number for batch in after_stall if batch.acked_by == a.url]
        assert acked_by_a == [], f"a acknowledged batches it could not have made durable: {acked_by_a}"
        late = {
            path
            for batch in after_stall
            if batch.node_url == a.url and not batch.acked_by
            for path in batch.paths
        }
        on_b = view_paths(b, DS, min_seq=writer.max_acked_seq)
        on_a = view_paths(a, DS, min_seq=writer.max_acked_seq)
        assert writer.acked_paths <= on_b, sorted(writer.acked_paths - on_b)[:10]
        stored_late = late & (on_a | on_b)
        assert not stored_late, f"rows a appended after losing the lease: {sorted(stored_late)[:10]}"
        # an append a had in flight when the stall began is either stored before b took over (b
        # replayed it: in both views) or refused; stored after the takeover, it would be in the
        # journal — so in a's view, which follows it now — but not in b's, which made the journal
        only_a, only_b = sorted(on_a - on_b), sorted(on_b - on_a)
        assert not only_a and not only_b, (
            f"rows only in a's view (stored after the takeover: not fenced): {only_a[:10]}; "
            f"only in b's: {only_b[:10]}; a {a.view(DS)}, b {b.view(DS)}"
        )
        print(
            f"{len(late)} rows were sent to a during the stall and refused; {len(writer.acked)} batches acked"
        )

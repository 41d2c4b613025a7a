"""PostgreSQL restarted under load: the nodes reconnect, ingest resumes, nothing acknowledged is lost.

Two Fusion nodes on a private PostgreSQL server (``pgserver``); a client writes through the
cluster all along. The server is restarted twice: a fast shutdown (every connection closed by the
server) and an immediate one (the server's processes quit at once, like a crash, and it recovers
from its WAL). After each, ingest resumes (new batches acknowledged), the replica follows again
(its notification connection was lost with the server), and at the end every acknowledged batch
is in both nodes' views.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cluster import AckingWriter, Cluster, view_paths
from pgserver import PgServer

DS = "demo"


def test_postgres_restarts_under_load_lose_nothing_acknowledged_and_ingest_resumes(
    make_cluster: Callable[..., Cluster], pg_server: PgServer
) -> None:
    cluster = make_cluster(journal_url=pg_server.url, size=2, datastores=(DS,), lease_s=3)
    writer = AckingWriter(cluster.urls, rows_per_batch=10, timeout_s=5).start(pause_s=0.01)
    outages = []
    try:
        writer.wait_acked(30, 30)
        for mode in ("fast", "immediate"):
            acked_before = len(writer.acked)
            down_at = time.time()
            pg_server.restart(mode)
            writer.wait_acked(30, 60)  # ingest resumed
            assert len(writer.acked) >= acked_before + 30
            outages.append((mode, round(writer.longest_pause(down_at), 2)))
            cluster.wait_applied(DS, writer.max_acked_seq, timeout=30)  # the replica follows again
        writer.stop()
        print(f"restarts (mode, longest pause in acknowledgements, s): {outages}")
        print(f"{len(writer.acked)} of {len(writer.batches)} batches acknowledged")
        cluster.wait_applied(DS, writer.max_acked_seq)
        for node in cluster.nodes:
            assert node.alive, f"{node.node_id} died:\n{node.log_tail()}"
            present = view_paths(node, DS, min_seq=writer.max_acked_seq)
            lost = writer.acked_paths - present
            assert not lost, f"{node.node_id} {node.view(DS)} lost: {writer.explain_lost(present)}"
        assert cluster.owner(DS) is not None
    finally:
        writer.close()

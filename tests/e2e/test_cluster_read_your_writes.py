"""A replica asked with ``?min_seq`` answers exactly what the owner answered.

Three Fusion nodes on one PostgreSQL journal; a client writes through the owner (inserts,
updates, deletes), reads the ``X-Fustor-Seq`` of each acknowledgement, asks the owner, then a
replica with ``min_seq`` = that sequence: the replica's answer is the owner's, byte for byte, and
says it reflects the same sequence. The same read *without* ``min_seq`` is counted too: it may
come before the replica applied the write (printed; that is what ``min_seq`` protects from).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from cluster import AckingWriter, Cluster, ClusterNode, keys

DS = "demo"


def answer_of(node: ClusterNode, what: str, **params: Any) -> tuple[int, int | None, Any]:
    answer = node.get(DS, what, **params)
    seq = answer.headers.get("X-Fustor-Seq")
    return answer.status_code, int(seq) if seq is not None else None, answer.json()


def test_a_replica_with_min_seq_answers_what_the_owner_answered(make_cluster: Callable[..., Cluster]) -> None:
    # ticks are journal records too: a slow tick keeps the sequence to the writes, so that the
    # owner's answer and the replica's reflect the very same record
    cluster = make_cluster(
        size=3, datastores=(DS,), lease_s=3, min_seq_wait_s=2, settings={"tick_interval_s": 30}
    )
    owner = cluster.wait_owner(DS)
    replicas = [node for node in cluster.nodes if node is not owner]
    writer = AckingWriter([owner.url], ingest_key=keys(DS)[0], rows_per_batch=5)
    rng = random.Random(14)
    stale = 0
    try:
        for step in range(40):
            written = sorted(writer.acked_paths)
            if step % 4 == 3 and written:
                batch = writer.push_one("delete", rng.sample(written, 2))
            elif step % 4 == 2 and written:
                batch = writer.push_one("update", rng.sample(written, 3))
            else:
                batch = writer.push_one()
            assert batch.acked_by == owner.url, batch.error
            assert batch.seq is not None
            replica = replicas[step % len(replicas)]
            unprotected = answer_of(replica, "tree", path="/", depth=1)
            queries: list[dict[str, Any]] = [{"path": "/", "depth": 1}]
            if batch.event_type != "delete":
                queries.append({"path": batch.paths[0], "depth": 0})
            for params in queries:
                mine = answer_of(owner, "tree", min_seq=batch.seq, **params)
                assert mine[0] == 200 and mine[1] is not None and mine[1] >= batch.seq, mine
                theirs = answer_of(replica, "tree", min_seq=mine[1], **params)
                assert theirs == mine, (params, theirs, mine)
            if unprotected[1] is None or unprotected[1] < batch.seq:
                stale += 1
        print(f"without min_seq, {stale} of 40 replica answers came before the write")
        # min_seq further than the journal: a bounded wait, then 504; a bad value: 422
        late = replica.get(DS, "tree", path="/", depth=0, min_seq=writer.max_acked_seq + 1000)
        assert late.status_code == 504 and late.json()["error"]["code"] == "min_seq_timeout", late.text
        assert replica.get(DS, "tree", path="/", min_seq="soon").status_code == 422
    finally:
        writer.close()

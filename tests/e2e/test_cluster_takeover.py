"""The owner of a view SIGKILLed at random points during ingest, again and again.

Three Fusion nodes share one PostgreSQL journal. A real agent watches a real directory that the
test keeps changing (files created, rewritten, deleted), pushing to the cluster through its
entry points (every node's URL); a client pushes numbered batches into a second view and
remembers each acknowledgement with the journal sequence that covered it. Ten times (seeded:
``FUSTOR_CLUSTER_SEED``), after a random pause, the owner of the agent's view is SIGKILLed;
another node takes the views over, and the killed node comes back as a replica. Then:

* no acknowledged batch is lost: every one is in every node's view;
* one audit, and every node's view equals the directory;
* the agent never re-snapshotted: its one snapshot is the first; every takeover resumed with an
  audit (the view id survives, the journal restored it);
* no two nodes ever said they owned a view at the same moment.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from agent_testkit import AgentProcess, remove_tree
from cluster import AckingWriter, Cluster, OwnershipWatch, keys, view_paths

from fustor_core.testing import wait_for

DS, ACKS = "demo", "acks"
KILLS = 10
LEASE_S = 2.0


@pytest.fixture
def export(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "export"
    root.mkdir()
    hour_ago = time.time() - 3600
    for d in range(5):
        (root / f"d{d}").mkdir()
        for f in range(20):
            path = root / f"d{d}" / f"f{f}.dat"
            path.write_bytes(b"x" * f)
            os.utime(path, (hour_ago, hour_ago))
    yield root
    remove_tree(root)


def churn(root: Path, rng: random.Random, round_: int) -> None:
    """A few creations, rewrites and deletions, as users of the export make them."""
    new = root / f"r{round_}"
    new.mkdir()
    for i in range(rng.randrange(3, 10)):
        (new / f"n{i}.dat").write_bytes(b"n" * rng.randrange(100))
    files = sorted(p for p in root.rglob("*.dat") if p.parent != new)
    for path in rng.sample(files, min(3, len(files))):
        path.write_bytes(b"y" * rng.randrange(100, 200))
    for path in rng.sample(files, min(2, len(files))):
        path.unlink(missing_ok=True)


def test_owner_killed_ten_times_loses_no_acknowledged_batch_and_no_agent_resnapshots(
    make_cluster: Callable[..., Cluster], export: Path, tmp_path: Path
) -> None:
    seed = int(os.environ.get("FUSTOR_CLUSTER_SEED", "1414"))
    rng = random.Random(seed)
    cluster = make_cluster(size=3, datastores=(DS, ACKS), lease_s=LEASE_S)
    first = cluster.wait_owner(DS)
    agent = AgentProcess(
        tmp_path / "agent-a",
        "agent-a",
        export,
        first,
        modes={"audit": {"interval_s": 3600, "deep_period_s": 0}, "sentinel": False},
        pusher={
            "driver": "http",
            "url": cluster.urls,
            "api_key": keys(DS)[0],
            "retry_max_s": 0.5,
            "timeout_s": 5.0,
        },
    )
    writer = AckingWriter(cluster.urls, ingest_key=keys(ACKS)[0], rows_per_batch=5)
    try:
        agent.start()
        wait_for(lambda: agent.runs("snapshot") == 1 and first.matches(export), 30, "the first snapshot")
        with OwnershipWatch(cluster, [DS, ACKS]) as watch:
            writer.start(pause_s=0.02)
            kills = []
            for round_ in range(KILLS):
                churn(export, rng, round_)
                time.sleep(rng.uniform(0.1, 1.5))  # a random point of the ingest
                victim = cluster.wait_owner(DS, 30)
                before = len(writer.acked)
                killed_at = time.time()
                cluster.kill(victim)
                successor = cluster.wait_owner(DS, LEASE_S + 15, exclude=(victim,))
                kills.append((victim.node_id, successor.node_id, round(time.time() - killed_at, 2)))
                cluster.wait_owner(ACKS, LEASE_S + 15)  # the dead node answers nothing
                cluster.restart(victim)  # back as a replica
                writer.wait_acked(3, 20)  # ingest resumed through the new owner
                assert len(writer.acked) > before
            writer.stop()
        print(f"seed {seed}: kills (victim, successor, seconds to a new owner): {kills}")
        print(f"{len(writer.acked)} of {len(writer.batches)} batches acknowledged")
        assert watch.overlaps == [], watch.overlaps

        # nothing acknowledged is lost, on any node
        cluster.wait_applied(ACKS, writer.max_acked_seq)
        for node in cluster.nodes:
            present = view_paths(node, ACKS, min_seq=writer.max_acked_seq)
            lost = writer.acked_paths - present
            assert not lost, f"{node.node_id} {node.view(ACKS)} lost: {writer.explain_lost(present)}"

        # one audit, and every node's view is the directory
        agent.run_now("audit", timeout=60)
        for node in cluster.nodes:
            wait_for(lambda n=node: n.matches(export), 30, f"{node.node_id}'s view to equal the export")

        # never a re-snapshot: every takeover resumed with an audit
        status = agent.status()
        assert agent.runs("snapshot") == 1, status["modes"]
        assert status["counters"].get("tenures_started_with_snapshot", 0) == 1, status["counters"]
        assert status["tenure"]["started_with"] == "audit", status["tenure"]
        resumed = status["counters"].get("tenures_started_with_audit", 0)
        print(f"agent tenures: 1 with a snapshot (the first), {resumed} resumed with an audit")
        assert resumed >= 1, status["counters"]  # the takeovers did move its session
    finally:
        writer.close()
        agent.stop()

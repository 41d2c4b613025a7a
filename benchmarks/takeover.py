"""Takeover (issue 14): the owner of a 1,000,000-file view SIGKILLed under ingest → how long after
its lease's end another node serves the view (``/readyz`` 200 as owner, and ingest accepted).

Two nodes (a third started at the end) on PostgreSQL (``clusterbench.py``), ``lease_s`` =
``--lease-s`` (10 s, the default of ``fusion.yaml``); the owner is fed the synthetic tree (``treegen.py``,
``--uploads`` × 1,000 files) and the replica follows it. A client keeps pushing small realtime
batches to the owner; the owner is SIGKILLed; the client then asks the other node until it
accepts a batch (it answers 307 or 503 before). The lease's end is not seen from outside: it is
at least ``lease_s - renew_interval_s`` after the kill (the last renewal may have just been
made), so the figure is the conservative ``accepted - (kill + lease_s - renew_interval_s)``.
Baseline (same run): the leader's re-snapshot of the view, Fusion's side — the push of the whole
tree, which is what a lost view costs without a cluster.

Also printed: a third node started after the takeover (not following before: it loads the newest
snapshot and the journal's tail from PostgreSQL) — its start → ``/readyz`` 200.

Budget: ≤ 10 s after the lease's end. Usage: ``python benchmarks/takeover.py [--uploads 1000]
[--lease-s 10] [--postgres-url URL] [--budget-scale F] [--smoke]``; exits 1 when missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from clusterbench import Nodes, add_postgres_argument, postgres, realtime_body, request, view_state, wait_seq
from fusion_http import Client, file_batches
from fusion_journal import INGEST_KEY, FusionProcess, bodies, push
from treegen import TreeShape

BUDGET_AFTER_LEASE_S = 10.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories of 1,000 files")
    parser.add_argument("--lease-s", type=float, default=10.0, help="cluster.lease_s of the nodes")
    add_postgres_argument(parser)
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.lease_s = 1, 1.0
    shape = TreeShape(uploads=args.uploads)
    work = Path(tempfile.mkdtemp(prefix="fustor-bench-takeover-"))
    try:
        with postgres(args) as url:
            nodes = Nodes(work, url, 3, lease_s=args.lease_s).start(count=2)
            try:
                results = run(nodes, shape)
            finally:
                nodes.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, nodes, shape, budgets)
    return budgets.verdict()


class Feeder(threading.Thread):
    """Pushes small realtime batches to one node until it stops answering."""

    def __init__(self, node: FusionProcess) -> None:
        super().__init__(daemon=True)
        self.client = Client(node.url, INGEST_KEY)
        status, _, data = request(
            self.client, "POST", "/api/v1/ingest/sessions", orjson.dumps({"agent_id": "feed"})
        )
        assert status in (200, 201), data
        self.events = f"/api/v1/ingest/sessions/{orjson.loads(data)['session_id']}/events"
        self.acked = 0

    def run(self) -> None:
        try:
            while True:
                body = realtime_body(self.acked + 1, [f"/feed/f{self.acked:06d}"])
                status, _, _ = request(self.client, "POST", self.events, body)
                if status != 200:
                    return
                self.acked += 1
        except OSError:
            return


def accepted_by(node: FusionProcess, deadline_s: float) -> tuple[float, float, int]:
    """Ask ``node`` until it takes a batch: (perf_counter when /readyz said owner with 200, when
    a batch was acknowledged, the answers before that were not 200)."""
    client = Client(node.url, INGEST_KEY)
    owner_at = None
    refused = 0
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if owner_at is None:
            state = view_state(node)
            if state.get("role") == "owner" and state.get("http_status") == 200:
                owner_at = time.perf_counter()
        try:
            status, _, data = request(
                client, "POST", "/api/v1/ingest/sessions", orjson.dumps({"agent_id": "after"})
            )
            if status in (200, 201):
                events = f"/api/v1/ingest/sessions/{orjson.loads(data)['session_id']}/events"
                status, _, data = request(client, "POST", events, realtime_body(1, ["/after-takeover"]))
                if status == 200:
                    if owner_at is None:
                        owner_at = time.perf_counter()
                    return owner_at, time.perf_counter(), refused
        except OSError:
            client = Client(node.url, INGEST_KEY)
        refused += 1
        time.sleep(0.02)
    raise SystemExit(f"{node.url} accepted no batch within {deadline_s} s: {view_state(node)}")


def run(nodes: Nodes, shape: TreeShape) -> dict[str, Any]:
    owner, successor, cold = nodes.nodes
    print(f"pushing the {shape.files:,}-file view into the owner ...", flush=True)
    resnapshot_s, rows, _ = push(owner, list(bodies(iter(file_batches(shape)))))
    assert rows == shape.files
    wait_seq(successor, int(view_state(owner).get("seq") or 0), 300)
    feeder = Feeder(owner)
    feeder.start()
    time.sleep(1.0)  # under ingest
    killed = time.perf_counter()
    owner.stop(signal.SIGKILL)
    feeder.join(10)
    owner_at, accepted, refused = accepted_by(successor, nodes.lease_s + 60)
    files = successor.stats()["files"]
    assert files >= shape.files, files
    # a node that was not following: it loads the newest snapshot and the journal's tail
    cold.start()
    cold_ready_s = cold.wait_ready(timeout=300)
    assert cold.stats()["files"] >= shape.files
    return {
        "cold_ready_s": cold_ready_s,
        "cold_report": cold.stats().get("journal", {}),
        "resnapshot_s": resnapshot_s,
        "owner_s": owner_at - killed,
        "accepted_s": accepted - killed,
        "refused": refused,
        "fed": feeder.acked,
        "files": files,
    }


def report(results: dict[str, Any], nodes: Nodes, shape: TreeShape, budgets: Budgets) -> None:
    earliest_lease_end = nodes.lease_s - nodes.renew_interval_s
    after_lease = results["accepted_s"] - earliest_lease_end
    baseline = f"leader re-snapshot of the view (Fusion side): {results['resnapshot_s']:.1f} s"
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    def line(name: str, value: str, budget: str = "", baseline: str = "") -> None:
        print(f"{name:<56}{value:>10}{budget:>9}   {baseline}")

    lease = f"lease_s {nodes.lease_s:g}, renew_interval_s {nodes.renew_interval_s:g}"
    print(f"{lease}; {results['fed']} batches fed before the kill")
    line("figure", "measured", "budget", "baseline (same run)")
    line("kill → the other node /readyz 200 as owner", f"{results['owner_s']:.2f} s")
    line(
        "kill → ingest accepted by it",
        f"{results['accepted_s']:.2f} s",
        "",
        f"{results['refused']} refusals before",
    )
    line(
        f"  after the lease end (earliest: kill + {earliest_lease_end:g} s)",
        f"{after_lease:.2f} s",
        "≤ 10",
        baseline,
    )
    line("  files in its view", f"{results['files']:,}")
    report = results["cold_report"]
    loaded = f"snapshot load {report.get('snapshot_load_s')} s, replay {report.get('replay_s')} s"
    line("a node started afterwards: start → /readyz 200", f"{results['cold_ready_s']:.2f} s", "", loaded)
    print()
    budgets.at_most(
        f"takeover of a {shape.files:,}-file view after the lease's end",
        after_lease,
        BUDGET_AFTER_LEASE_S,
        "s",
        baseline,
    )


if __name__ == "__main__":
    sys.exit(main())

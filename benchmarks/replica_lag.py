"""Replica lag (issue 14): after a write through the owner, how long until a replica's query
shows it; and how fast a replica answers queries beside the owner, in the same run.

An owner and one replica on PostgreSQL (``clusterbench.py``), the view preloaded with
``--uploads`` × 1,000 files of the synthetic tree (``treegen.py``). Then:

* **lag**: ``--writes`` single-file realtime inserts through the owner, 20 ms apart; right after
  each acknowledgement (its ``X-Fustor-Seq`` = S), a query of that file on the replica with
  ``?min_seq=S`` — it answers once the replica has applied the write: lag = acknowledgement →
  the replica's answer holding the file. Baseline: the same query on the owner (read-your-write
  where the write was made), on alternate writes.
* **query latency**: one ``{uuid}`` subtree (1,000 files, full depth) asked ``--queries`` times
  of each node, alternating, on keep-alive connections.

Budgets: lag p50 ≤ 30 ms, p99 ≤ 100 ms; replica query p50 ≤ 110 % of the owner's. Usage:
``python benchmarks/replica_lag.py [--uploads 10] [--writes 200] [--queries 300]
[--postgres-url URL] [--budget-scale F] [--smoke]``; exits 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from clusterbench import Nodes, add_postgres_argument, postgres, realtime_body, request, view_state, wait_seq
from fusion_http import Client, file_batches
from fusion_journal import INGEST_KEY, QUERY_KEY, bodies, push
from treegen import TreeShape

BUDGET_P50_MS, BUDGET_P99_MS, BUDGET_QUERY_RATIO = 30.0, 100.0, 1.10


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=10, help="{uuid} directories of 1,000 files preloaded")
    parser.add_argument("--writes", type=int, default=200, help="writes (half measured on each node)")
    parser.add_argument("--queries", type=int, default=300, help="subtree queries per node")
    add_postgres_argument(parser)
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.writes, args.queries = 1, 10, 10
    shape = TreeShape(uploads=args.uploads)
    work = Path(tempfile.mkdtemp(prefix="fustor-bench-replica-lag-"))
    try:
        with postgres(args) as url:
            nodes = Nodes(work, url, 2).start()
            try:
                results = run(nodes, shape, args.writes, args.queries)
            finally:
                nodes.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, budgets)
    return budgets.verdict()


def run(nodes: Nodes, shape: TreeShape, writes: int, queries: int) -> dict[str, Any]:
    owner, replica = nodes.nodes
    push(owner, list(bodies(iter(file_batches(shape)))))
    wait_seq(replica, int(view_state(owner).get("seq") or 0), 120)
    print(f"view: {shape.files:,} files on both nodes", flush=True)

    writer = Client(owner.url, INGEST_KEY)
    status, _, data = request(writer, "POST", "/api/v1/ingest/sessions", orjson.dumps({"agent_id": "lag"}))
    assert status in (200, 201), data
    events = f"/api/v1/ingest/sessions/{orjson.loads(data)['session_id']}/events"
    readers = {"owner": Client(owner.url, QUERY_KEY), "replica": Client(replica.url, QUERY_KEY)}
    lags: dict[str, list[float]] = {"owner": [], "replica": []}
    for i in range(writes):
        path = f"/lag/f{i:05d}"
        status, headers, data = request(writer, "POST", events, realtime_body(i + 1, [path]))
        acked = time.perf_counter()
        assert status == 200, data
        seq = int(headers["x-fustor-seq"])
        where = "replica" if i % 2 == 0 else "owner"
        status, headers, data = request(
            readers[where], "GET", f"/api/v1/views/demo/tree?path={path}&min_seq={seq}"
        )
        lags[where].append((time.perf_counter() - acked) * 1000)
        assert status == 200 and int(headers["x-fustor-seq"]) >= seq, (status, data[:200])
        time.sleep(0.02)

    subtree = f"/api/v1/views/demo/tree?path={shape.upload_dir(shape.upload_ids()[0])}&depth=-1"
    latency: dict[str, list[float]] = {"owner": [], "replica": []}
    answers: dict[str, bytes] = {}
    for _ in range(queries):
        for where, client in readers.items():
            started = time.perf_counter()
            status, _, data = request(client, "GET", subtree)
            latency[where].append((time.perf_counter() - started) * 1000)
            assert status == 200, data[:200]
            answers[where] = data
    assert answers["owner"] == answers["replica"], "the replica answered another subtree than the owner"
    return {"lag_ms": lags, "query_ms": latency, "subtree_files": shape.subdirs * shape.files_per_dir}


def report(results: dict[str, Any], budgets: Budgets) -> None:
    lag, owner_lag = results["lag_ms"]["replica"], results["lag_ms"]["owner"]
    query = results["query_ms"]
    p50 = {where: statistics.median(values) for where, values in query.items()}
    ratio = p50["replica"] / p50["owner"]
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

    def line(name: str, value: str, budget: str = "", baseline: str = "") -> None:
        print(f"{name:<48}{value:>12}{budget:>10}   {baseline}")

    line("figure", "measured", "budget", "baseline (same run)")
    owner_p50, owner_p99 = statistics.median(owner_lag), percentile(owner_lag, 99)
    base_p50 = f"read on the owner: {owner_p50:.1f} ms"
    base_p99 = f"read on the owner: {owner_p99:.1f} ms"
    line(
        f"write → replica shows it, p50 ({len(lag)} writes)",
        f"{statistics.median(lag):.1f} ms",
        "≤ 30",
        base_p50,
    )
    line("write → replica shows it, p99", f"{percentile(lag, 99):.1f} ms", "≤ 100", base_p99)
    files = results["subtree_files"]
    owner_query = f"owner: {p50['owner']:.2f} ms"
    line(f"subtree of {files:,} files on the replica, p50", f"{p50['replica']:.2f} ms", "", owner_query)
    line("  replica / owner", f"{ratio:.0%}", "≤ 110%")
    print()
    budgets.at_most("replica lag p50", statistics.median(lag), BUDGET_P50_MS, "ms", base_p50)
    budgets.at_most("replica lag p99", percentile(lag, 99), BUDGET_P99_MS, "ms", base_p99)
    budgets.at_most(
        "replica query p50 / owner's", ratio, BUDGET_QUERY_RATIO, "x", f"owner p50 {p50['owner']:.2f} ms"
    )


if __name__ == "__main__":
    sys.exit(main())

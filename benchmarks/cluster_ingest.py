"""Cluster ingest (issue 14): HTTP ingest through a view's owner with the PostgreSQL journal,
beside the embedded (sqlite) journal measured in the same run.

The 1,000,000-file synthetic tree (``treegen.py``) is pushed as snapshot batches of 1,000 rows
from one client over one keep-alive connection, each batch after the previous answer (every
answer waits for its record to be durable), exactly as ``fusion_journal.py`` does:

* **baseline**: one ``fustor-fusion serve`` with the default sqlite journal;
* **cluster**: an owner and ``--replicas`` replicas (default 1, following the journal as
  deployed) on PostgreSQL (``clusterbench.py``: ``--postgres-url``, ``FUSTOR_TEST_POSTGRES_URL``
  or a private server), the client talking to the owner.

``--rounds`` alternating runs, the best of each counts (a shared machine's load changes from one
run to the next); Fusion's CPU time per row is printed beside, and how long after the last
acknowledgement the replicas had applied everything. Budget: ≥ 100,000 rows/s through the
owner. Usage: ``python benchmarks/cluster_ingest.py [--uploads 1000] [--replicas 1] [--rounds 2]
[--postgres-url URL] [--budget-scale F] [--smoke]``; exits 1 when the budget is missed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from clusterbench import Nodes, add_postgres_argument, postgres, view_state, wait_seq
from fusion_http import BATCH, file_batches
from fusion_journal import FusionProcess, bodies, push
from treegen import TreeShape

BUDGET_ROWS_S = 100_000


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories of 1,000 files")
    parser.add_argument("--replicas", type=int, default=1, help="replicas following the owner")
    parser.add_argument(
        "--rounds", type=int, default=2, help="runs per journal, alternating (the best counts)"
    )
    add_postgres_argument(parser)
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.rounds = 1, 1
    shape = TreeShape(uploads=args.uploads)
    work = Path(tempfile.mkdtemp(prefix="fustor-bench-cluster-ingest-"))
    try:
        with postgres(args) as url:
            results = run(shape, work, url, args.replicas, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, shape, args.replicas, budgets)
    return budgets.verdict()


def run(shape: TreeShape, work: Path, url: str, replicas: int, rounds: int) -> dict[str, Any]:
    print(
        f"tree: {shape.files:,} files, batches of {BATCH} rows, one client waiting for each answer",
        flush=True,
    )
    payloads = list(bodies(iter(file_batches(shape))))
    results: dict[str, Any] = {}
    for round_ in range(rounds):
        # the embedded journal
        directory = work / f"sqlite-{round_}"
        directory.mkdir()
        fusion = FusionProcess(directory, {"driver": "sqlite", "path": str(directory / "journal")}).start()
        fusion.wait_ready()
        seconds, rows, _ = push(fusion, payloads)
        assert rows == shape.files, rows
        keep_best(results, "sqlite", rows / seconds, fusion.cpu_s / rows)
        fusion.stop()
        # the cluster on PostgreSQL
        nodes = Nodes(work / f"pg-{round_}", url, 1 + replicas).start()
        try:
            owner = nodes.nodes[0]
            seconds, rows, _ = push(owner, payloads)
            acked = time.perf_counter()
            assert rows == shape.files, rows
            keep_best(results, "postgres", rows / seconds, owner.cpu_s / rows)
            last = int(view_state(owner).get("seq") or 0)
            caught_up = max((wait_seq(node, last, 120) for node in nodes.nodes[1:]), default=acked)
            results["replica_catch_up_s"] = caught_up - acked
            files = [node.stats()["files"] for node in nodes.nodes]
            assert all(count == shape.files for count in files), files
        finally:
            nodes.stop()
        print(
            f"  round {round_ + 1}: sqlite {results['sqlite_rows_s']:,.0f} rows/s (best), "
            f"postgres {results['postgres_rows_s']:,.0f} rows/s (best)",
            flush=True,
        )
    return results


def keep_best(results: dict[str, Any], journal: str, rate: float, cpu_s_per_row: float) -> None:
    if rate > results.get(f"{journal}_rows_s", 0):
        results[f"{journal}_rows_s"] = rate
        results[f"{journal}_cpu_us_per_row"] = cpu_s_per_row * 1e6


def report(results: dict[str, Any], shape: TreeShape, replicas: int, budgets: Budgets) -> None:
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'figure':<52}{'measured':>17}{'budget':>11}   baseline (same run)")
    baseline = f"embedded sqlite journal: {results['sqlite_rows_s']:,.0f} rows/s"
    print(
        f"{'HTTP ingest through the owner, PostgreSQL (best)':<52}{results['postgres_rows_s']:>10,.0f} rows/s"
        f"{'≥ ' + format(BUDGET_ROWS_S, ','):>11}   {baseline}"
    )
    print(
        f"{'  owner CPU per row':<52}{results['postgres_cpu_us_per_row']:>14.2f} µs{'':>11}   "
        f"sqlite: {results['sqlite_cpu_us_per_row']:.2f} µs"
    )
    print(
        f"{f'  {replicas} replica(s) caught up after the last ack':<52}"
        f"{results['replica_catch_up_s']:>15.2f} s"
    )
    print()
    budgets.at_least(
        f"HTTP ingest of {shape.files:,} rows through the owner (PostgreSQL journal)",
        results["postgres_rows_s"],
        BUDGET_ROWS_S,
        "rows/s",
        baseline,
    )


if __name__ == "__main__":
    sys.exit(main())

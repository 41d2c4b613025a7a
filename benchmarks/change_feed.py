"""Change feed (issue 12): a write on the export → seen by a long-polling consumer of the feed,
end to end through a real agent (realtime) and a real Fusion, beside the same run's baseline.

The tree is ``treegen``'s upload area (``--uploads`` × 1,000 empty files, built once under
``--root``), served by ``fustor-fusion serve`` (sqlite journal, as deployed) and watched by
``fustor-agent run``. Once the agent's snapshot is in, files are written one at a time, 0.2 s
apart, in a directory of their own, alternately measured two ways:

* **feed**: a consumer thread long-polls ``GET /changes?since=…&wait=60&path=<that directory>``
  on a keep-alive connection; latency = the write → the consumer holding the file's entry;
* **tree (baseline)**: the agent's realtime latency to Fusion's tree, polled on a keep-alive
  connection until the file answers 200, as ``agent_sync.py`` measures it.

Budgets: feed p50 ≤ 20 ms, p99 ≤ 60 ms. Usage: ``python benchmarks/change_feed.py [--root DIR]
[--uploads 10] [--writes 200] [--budget-scale F] [--smoke]``; exits 1 when a budget is missed
(``budgets.py``). ``--smoke`` uses one upload in a temporary directory and 6 writes.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from fustor_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parent))
from agent_sync import BIN, build_tree, percentile, start, wait
from budgets import Budgets, add_arguments
from treegen import TreeShape, smoke_tree_root

INGEST_KEY, QUERY_KEY = "bench-ingest", "bench-query"
BUDGET_P50_MS, BUDGET_P99_MS = 20.0, 60.0
WRITE_DIR = "/upload/feed-bench"


class FeedConsumer(threading.Thread):
    """Long-polls the feed below ``WRITE_DIR``; notes when each file's entry arrived."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.client = httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=90)
        self.cursor = self.client.get("/api/v1/views/bench/changes").json()["next"]
        self.arrived: dict[str, float] = {}
        self.stop = threading.Event()
        self.polls = 0

    def run(self) -> None:
        while not self.stop.is_set():
            params = {"since": self.cursor, "wait": 60, "path": WRITE_DIR}
            try:
                page = self.client.get("/api/v1/views/bench/changes", params=params).json()
            except httpx.HTTPError:
                if self.stop.is_set():
                    return
                raise
            now = time.perf_counter()
            self.polls += 1
            assert not page["reset"], page
            for change in page["changes"]:
                if change["op"] == "upsert" and not change["is_dir"]:
                    self.arrived.setdefault(change["path"], now)
            self.cursor = page["next"]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", help="where the on-disk tree lives (default /tmp/fustor-bench/tree-feed)")
    parser.add_argument("--uploads", type=int, default=10, help="uuid directories (x1000 files)")
    parser.add_argument("--writes", type=int, default=200, help="files written (half measured each way)")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.writes = 1, 6
    with smoke_tree_root(args, prefix="fustor-feed-smoke-"):
        return run(args, budgets)


def run(args: argparse.Namespace, budgets: Budgets) -> int:
    shape = TreeShape(uploads=args.uploads)
    root = Path(args.root or "/tmp/fustor-bench/tree-feed")
    build_tree(root, shape)
    work = Path(tempfile.mkdtemp(prefix="fustor-feed-bench-"))
    fusion_port, agent_port = free_port(), free_port()
    url = f"http://127.0.0.1:{fusion_port}"
    (work / "fusion.yaml").write_text(
        yaml.safe_dump(
            {
                "journal": {"driver": "sqlite", "path": str(work / "journal")},
                "datastores": {
                    "bench": {
                        "api_keys": [
                            {"key": INGEST_KEY, "scopes": ["ingest"]},
                            {"key": QUERY_KEY, "scopes": ["query"]},
                        ]
                    }
                },
            }
        )
    )
    (work / "agent.yaml").write_text(
        yaml.safe_dump(
            {
                "agent_id": "bench-agent",
                "pipes": [
                    {
                        "datastore": "bench",
                        "source": {"driver": "fs", "path": str(root)},
                        "pusher": {"driver": "http", "url": url, "api_key": INGEST_KEY},
                        "audit_interval_s": 3600,
                        "sentinel_interval_s": 3600,
                    }
                ],
            }
        )
    )
    fusion = start(
        [
            str(BIN / "fustor-fusion"),
            "serve",
            "--config",
            str(work / "fusion.yaml"),
            "--port",
            str(fusion_port),
        ],
        work / "fusion.log",
    )
    agent = None
    consumer: FeedConsumer | None = None
    query = httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=30)
    bench_dir = root / WRITE_DIR.lstrip("/")
    try:
        wait(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "Fusion")
        agent = start(
            [
                str(BIN / "fustor-agent"),
                "run",
                "--config",
                str(work / "agent.yaml"),
                "--port",
                str(agent_port),
            ],
            work / "agent.log",
        )
        wait(
            lambda: query.get("/api/v1/views/bench/stats").json()["files"] >= shape.files, 300, "the snapshot"
        )
        shutil.rmtree(bench_dir, ignore_errors=True)
        bench_dir.mkdir()
        wait(
            lambda: query.get("/api/v1/views/bench/tree", params={"path": WRITE_DIR}).status_code == 200,
            10,
            "the write directory",
        )
        consumer = FeedConsumer(url)
        consumer.start()
        feed_ms, tree_ms = measure(args.writes, root, consumer, query)
        stats = query.get("/api/v1/views/bench/stats").json()["change_feed"]
    finally:
        if consumer is not None:
            consumer.stop.set()
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        fusion.terminate()
        fusion.wait(30)
        shutil.rmtree(bench_dir, ignore_errors=True)
    report(feed_ms, tree_ms, consumer, stats, budgets)
    shutil.rmtree(work, ignore_errors=True)
    return budgets.verdict()


def measure(
    writes: int, root: Path, consumer: FeedConsumer, query: httpx.Client
) -> tuple[list[float], list[float]]:
    """Write ``writes`` files; even ones are timed through the feed, odd ones by polling the tree."""
    feed_ms: list[float] = []
    tree_ms: list[float] = []
    for i in range(writes):
        path = f"{WRITE_DIR}/f{i}"
        written = time.perf_counter()
        with open(f"{root}{path}", "wb") as handle:
            handle.write(b"x")
        if i % 2 == 0:
            wait(lambda path=path: path in consumer.arrived, 10, f"{path} in the feed", interval=0.001)  # type: ignore[misc]
            feed_ms.append((consumer.arrived[path] - written) * 1000)
        else:
            while query.get("/api/v1/views/bench/tree", params={"path": path, "depth": 0}).status_code != 200:
                if time.perf_counter() - written > 10:
                    raise SystemExit(f"{path} never reached Fusion's tree")
            tree_ms.append((time.perf_counter() - written) * 1000)
        time.sleep(0.2)
    return feed_ms, tree_ms


def report(
    feed_ms: list[float],
    tree_ms: list[float],
    consumer: FeedConsumer | None,
    stats: dict[str, Any],
    budgets: Budgets,
) -> None:
    p50, p99 = statistics.median(feed_ms), percentile(feed_ms, 0.99)
    tree_p50, tree_p99 = statistics.median(tree_ms), percentile(tree_ms, 0.99)
    polls = consumer.polls if consumer is not None else 0
    print()
    print(f"{'figure':<52}{'measured':>12}{'budget':>10}   baseline (same run)")
    print(
        f"{'write -> long-polling feed consumer, p50':<52}{p50:>9.1f} ms{'≤ 20':>10}"
        f"   agent realtime -> tree (polled) p50 {tree_p50:.1f} ms"
    )
    print(f"{'  p99':<52}{p99:>9.1f} ms{'≤ 60':>10}   tree p99 {tree_p99:.1f} ms")
    print(f"{'  max':<52}{max(feed_ms):>9.1f} ms{'':>10}   tree max {max(tree_ms):.1f} ms")
    print(
        f"  {len(feed_ms)} writes via the feed ({polls} long polls answered), {len(tree_ms)} via the tree;"
        f" feed figures at the end: {stats}"
    )
    baseline = f"agent realtime -> tree p50 {tree_p50:.1f} ms"
    budgets.at_most("write -> feed consumer p50", p50, BUDGET_P50_MS, "ms", baseline)
    budgets.at_most("write -> feed consumer p99", p99, BUDGET_P99_MS, "ms", f"tree p99 {tree_p99:.1f} ms")


if __name__ == "__main__":
    sys.exit(main())

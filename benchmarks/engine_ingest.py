"""Engine budgets (issue 2): snapshot ingest rate, memory per file, subtree and root-count latency.

Feeds the 1,000,000-file synthetic tree to a view with every default rule loaded, as snapshot
batches of 1,000 rows, and compares with building a plain ``dict`` of the same rows in the same
run. Usage: ``python benchmarks/engine_ingest.py [--uploads N] [--budget-scale F] [--smoke]``;
exits 1 when a budget is missed (see ``budgets.py``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import psutil

from fustor_core.event_model import Event
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.engine import View

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from treegen import TreeShape, snapshot_event

BATCH = 1000


def batches(shape: TreeShape) -> Iterator[Event]:
    """Snapshot events of BATCH rows, generated lazily so they do not count in the RSS growth."""
    rows = shape.file_rows()
    while chunk := list(islice(rows, BATCH)):
        yield snapshot_event(chunk)


def measure(shape: TreeShape) -> dict[str, float]:
    process = psutil.Process()
    gc.collect()
    pm = get_plugin_manager()
    # a clock a day after the newest file: the tree is cold, as a settled upload area is
    view = View("bench", pm, now=lambda: shape.base_mtime + 2 * 86_400)
    rss_before = process.memory_info().rss
    engine_s = 0.0
    for event in batches(shape):
        t0 = time.perf_counter()
        view.apply_event(event)
        engine_s += time.perf_counter() - t0
    gc.collect()
    rss_growth = process.memory_info().rss - rss_before
    files = view.stats()["files"]
    assert files == shape.files, (files, shape.files)

    upload = shape.upload_dir(shape.upload_ids()[len(shape.upload_ids()) // 2])
    subtree_ms = []
    for _ in range(500):
        t0 = time.perf_counter()
        answer = view.tree(upload, depth=3)
        subtree_ms.append((time.perf_counter() - t0) * 1000)
    assert answer["files"] == shape.subdirs * shape.files_per_dir
    root_us, stats_us = [], []
    for _ in range(2000):
        t0 = time.perf_counter()
        view.store.aggregate("/")
        root_us.append((time.perf_counter() - t0) * 1e6)
        t0 = time.perf_counter()
        view.stats()
        stats_us.append((time.perf_counter() - t0) * 1e6)
    del view, pm
    gc.collect()

    dict_s = 0.0
    plain: dict[str, tuple[int, float]] = {}
    for event in batches(shape):
        t0 = time.perf_counter()
        for row in event.rows:
            plain[row.path] = (row.size, row.mtime)
        dict_s += time.perf_counter() - t0
    assert len(plain) == shape.files
    return {
        "files": shape.files,
        "engine_s": engine_s,
        "rows_per_s": shape.files / engine_s,
        "dict_s": dict_s,
        "ratio": engine_s / dict_s,
        "bytes_per_file": rss_growth / shape.files,
        "subtree_p50_ms": statistics.median(subtree_ms),
        "subtree_p99_ms": sorted(subtree_ms)[int(len(subtree_ms) * 0.99) - 1],
        "root_count_p50_us": statistics.median(root_us),
        "stats_p50_us": statistics.median(stats_us),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories (250×4 files each)")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    r = measure(TreeShape(uploads=1 if args.smoke else args.uploads))
    print(f"engine ingest: {r['files']:,} snapshot rows in batches of {BATCH}, all default rules")
    print(f"  engine      {r['engine_s']:.2f} s  = {r['rows_per_s']:,.0f} rows/s   (budget >= 150,000)")
    print(f"  plain dict  {r['dict_s']:.2f} s  (baseline, same rows)")
    print(f"  ratio       {r['ratio']:.1f}x the dict build   (budget <= 8x)")
    print(
        f"  memory      {r['bytes_per_file']:.0f} bytes/file RSS growth"
        "   (budget <= 250; earlier implementation ~510)"
    )
    print(
        f"  subtree     {r['subtree_p50_ms']:.2f} ms p50, {r['subtree_p99_ms']:.2f} ms p99 "
        f"for one {{uuid}} dir of 1,000 files   (budget <= 2 ms p50)"
    )
    print(
        f"  root count  {r['root_count_p50_us']:.1f} us p50 aggregate('/')   (budget <= 50 us); "
        f"full stats {r['stats_p50_us']:.1f} us"
    )
    dict_rate = f"plain dict {r['files'] / r['dict_s']:,.0f} rows/s"
    budgets.at_least("engine ingest", r["rows_per_s"], 150_000, "rows/s", dict_rate)
    budgets.at_most("engine time / plain dict time", r["ratio"], 8, "x", f"plain dict {r['dict_s']:.2f} s")
    budgets.at_most("memory per file", r["bytes_per_file"], 250, "bytes", "earlier implementation ~510")
    budgets.at_most("subtree of one {uuid}, p50", r["subtree_p50_ms"], 2, "ms")
    budgets.at_most(
        "aggregate('/') p50", r["root_count_p50_us"], 50, "us", f"full stats {r['stats_p50_us']:.1f} us"
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

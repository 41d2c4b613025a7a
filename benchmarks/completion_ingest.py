"""What the merge-completion rule costs: snapshot ingest, memory, settling, tree answers.

Feeds the 1,000,000-file synthetic tree (every directory's own row first, as the agent's walk
sends it, then its files, each row naming its directory) as snapshot batches of 1,000 rows to a
view with the default rules, and to one with the default rules plus ``merge-completion``,
alternately (best of two runs each, so machine noise hits both). Then, on the view with the
rule, one tick a day later decides every directory (all settle at once), and a depth-3 tree
answer of one upload is timed on both views. The garbage collector is tuned as Fusion tunes it
at start. Usage: ``python benchmarks/completion_ingest.py [--uploads N] [--budget-scale F]
[--smoke]``; exits 1 when a budget is missed (see ``budgets.py``).
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

from fustor_core.event_model import Event, Row
from fustor_core.plugins import get_plugin_manager
from fustor_core.runtime import tune_garbage_collection
from fustor_fusion.engine import View

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from treegen import TreeShape, snapshot_event

BATCH = 1000
DEFAULT_RULES = ["storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]
WITH_COMPLETION = [*DEFAULT_RULES, "merge-completion"]


def _dir_row(path: str, mtime: float) -> Row:
    parent = None if path == "/" else path.rpartition("/")[0] or "/"
    return Row.model_construct(
        path=path,
        is_dir=True,
        size=0,
        mtime=mtime,
        parent_path=parent,
        parent_mtime=None,
        audit_skipped=False,
    )


def rows_with_directories(shape: TreeShape) -> Iterator[Row | tuple[str, int, float]]:
    """The shape's files, each directory's own row before its first entry (listed, as a snapshot)."""
    seen: set[str] = {"/"}
    yield _dir_row("/", shape.base_mtime)
    for path, size, mtime in shape.file_rows():
        head = path.rpartition("/")[0]
        missing = []
        while head not in seen:
            seen.add(head)
            missing.append(head)
            head = head.rpartition("/")[0] or "/"
        for directory in reversed(missing):
            yield _dir_row(directory, shape.base_mtime)
        yield path, size, mtime


def batches(shape: TreeShape) -> Iterator[Event]:
    stream = rows_with_directories(shape)
    while chunk := list(islice(stream, BATCH)):
        event = snapshot_event([item for item in chunk if isinstance(item, tuple)])
        files = iter(event.rows)
        event.rows = [item if isinstance(item, Row) else next(files) for item in chunk]
        for row in event.rows:  # as the agent's walk sends them: each row names its directory
            if row.parent_path is None and row.path != "/":
                row.parent_path = row.path.rpartition("/")[0] or "/"
        yield event


def ingest(shape: TreeShape, plugins: list[str]) -> tuple[View, float, int]:
    """A view fed the whole tree: (view, engine seconds, RSS growth in bytes)."""
    gc.collect()
    process = psutil.Process()
    now = shape.base_mtime + 2 * 86_400  # a day after the newest file: a settled upload area
    view = View("bench", get_plugin_manager(only=plugins, exclude=()), now=lambda: now)
    rss_before = process.memory_info().rss
    engine_s = 0.0
    for event in batches(shape):
        t0 = time.perf_counter()
        view.apply_event(event)
        engine_s += time.perf_counter() - t0
    gc.collect()
    assert view.stats()["files"] == shape.files
    return view, engine_s, process.memory_info().rss - rss_before


def tree_p50_ms(view: View, path: str, rounds: int = 200) -> float:
    timings = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        view.tree(path, depth=3)
        timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings)


def measure(shape: TreeShape) -> dict[str, float]:
    without_s: list[float] = []
    with_s: list[float] = []
    without_rss = with_rss = 0
    upload = shape.upload_dir(shape.upload_ids()[len(shape.upload_ids()) // 2])
    result: dict[str, float] = {"files": shape.files}
    for round_ in range(2):
        view, seconds, rss = ingest(shape, DEFAULT_RULES)
        without_s.append(seconds)
        without_rss = rss if round_ == 0 else min(without_rss, rss)
        result["tree_without_ms"] = tree_p50_ms(view, upload)
        del view
        view, seconds, rss = ingest(shape, WITH_COMPLETION)
        with_s.append(seconds)
        with_rss = rss if round_ == 0 else min(with_rss, rss)
        t0 = time.perf_counter()
        view.tick()
        result["tick_ms"] = (time.perf_counter() - t0) * 1000
        assert view.tree(upload, depth=0)["complete"] is True, "the settled upload is not complete"
        stats = view.stats()
        assert stats["uploads_complete"] == 1 and stats["completion_pending"] == 0, stats
        result["tree_with_ms"] = tree_p50_ms(view, upload)
        result["directories"] = view.stats()["dirs"]
        del view
    result.update(
        without_s=min(without_s),
        with_s=min(with_s),
        without_rate=shape.files / min(without_s),
        with_rate=shape.files / min(with_s),
        without_bytes=without_rss / shape.files,
        with_bytes=with_rss / shape.files,
    )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories (250×4 files each)")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    tune_garbage_collection()  # as Fusion does at start (both configurations alike)
    r = measure(TreeShape(uploads=1 if args.smoke else args.uploads))
    ratio = r["with_rate"] / r["without_rate"]
    extra_bytes = r["with_bytes"] - r["without_bytes"]
    print(
        f"completion rule: {r['files']:,.0f} files in {r['directories']:,.0f} directories, snapshot batches"
    )
    print(
        f"  ingest, default rules          {r['without_s']:.2f} s = {r['without_rate']:,.0f} rows/s"
        "   (baseline)"
    )
    print(
        f"  ingest, + merge-completion     {r['with_s']:.2f} s = {r['with_rate']:,.0f} rows/s"
        f"   ({ratio:.0%} of the baseline; budget >= 70%)"
    )
    print(
        f"  memory                         {r['without_bytes']:.0f} -> {r['with_bytes']:.0f} bytes/file"
        f"   (+{extra_bytes:.0f}; budget <= +25)"
    )
    print(f"  first tick, every directory    {r['tick_ms']:.1f} ms   (budget <= 500 ms)")
    print(
        f"  tree of one upload, depth 3    {r['tree_with_ms']:.2f} ms p50"
        f" (without the rule {r['tree_without_ms']:.2f} ms; budget <= 1.5x)"
    )
    baseline = f"default rules {r['without_rate']:,.0f} rows/s"
    budgets.at_least("ingest rate with merge-completion / without", ratio, 0.70, "", baseline)
    budgets.at_most(
        "memory per file added by merge-completion",
        extra_bytes,
        25,
        "bytes",
        f"{r['without_bytes']:.0f} bytes",
    )
    budgets.at_most("tick deciding every directory", r["tick_ms"], 500, "ms")
    budgets.at_most(
        "tree answer with / without the flag",
        r["tree_with_ms"] / r["tree_without_ms"],
        1.5,
        "x",
        f"{r['tree_without_ms']:.2f} ms",
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

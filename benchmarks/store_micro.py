"""Micro-benchmark of the in-memory tree store (plugin ``storage-memory``).

Builds a synthetic tree of 1,000,000 files shaped like an upload area::

    /upload/submit/{c1}/{c2}/{uuid}/sub_{k}/data_{n}.dat     1,000 uuid x 4 sub_k x 250 files

fed in upsert calls of 1,000 rows (one uuid directory per call, rows grouped by directory as
agents send them; rows built lazily so earlier batches are freed), and prints each figure beside
its budget and a baseline measured in the same run:

* upsert rows/s (budget >= 1.5 M/s) vs building a plain ``dict`` path -> (size, mtime) from the
  same rows: best of two timed builds each (one alone, one interleaved batch by batch), since
  the machine is shared;
* RSS growth per file (budget <= 120 bytes), and the plain dict's for comparison;
* ``node()`` of one uuid directory at depth 3 (1,005 nodes, two flag predicates; budget 1.5 ms
  median over 500 calls) vs building 1,000 bare dicts;
* ``aggregate('/')`` (budget 5 us);
* for reference: an update pass, ``lookup()`` of a batch's paths and of its parents, search.

Run: ``.venv/bin/python benchmarks/store_micro.py [--uploads N] [--budget-scale F] [--smoke]``
(20-40 s); exits 1 when a budget is missed (see ``budgets.py``).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil

from fustor_core.event_model import Row
from fustor_storage_memory import MemoryTreeStore

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments

SUBS = 4
FILES_PER_SUB = 250
BATCH = SUBS * FILES_PER_SUB  # one uuid directory per upsert call
INDICES = range(BATCH)
perf = time.perf_counter


def uuid_dirs(uploads: int) -> list[str]:
    """The uuid directory paths (deterministic, spread over the two-hex-char levels)."""
    out = []
    for i in range(uploads):
        u = str(uuid.UUID(int=(i * 0x9E3779B97F4A7C15_F39CC0605CEDC834) % (1 << 128)))
        out.append(f"/upload/submit/{u[:2]}/{u[2:4]}/{u}")
    return out


def batches(dirs: list[str]) -> Iterator[list[Row]]:
    """Rows of one uuid directory at a time, built lazily so earlier batches are freed."""
    construct = Row.model_construct
    for base in dirs:
        rows = []
        for k in range(SUBS):
            prefix = f"{base}/sub_{k}/data_"
            for n in range(FILES_PER_SUB):
                rows.append(
                    construct(
                        path=f"{prefix}{n}.dat",
                        is_dir=False,
                        size=4096 + n,
                        mtime=1_700_000_000.0 + n,
                        parent_path=None,
                        parent_mtime=None,
                        audit_skipped=False,
                    )
                )
        yield rows


def rss() -> int:
    gc.collect()
    return int(psutil.Process().memory_info().rss)


def line(label: str, value: str, note: str = "", ok: bool | None = None) -> None:
    """Print one figure; ``ok`` is the budget's verdict, recorded in :class:`Budgets`."""
    verdict = "" if ok is None else ("  OK" if ok else "  OVER BUDGET")
    print(f"{label:<46} {value:>17}   {note}{verdict}", flush=True)


def dict_build(plain: dict[str, tuple[int, float]], rows: list[Row]) -> float:
    """The baseline: what any Python index of these rows costs at least."""
    t0 = perf()
    for i in INDICES:
        row = rows[i]
        plain[row.path] = (row.size, row.mtime)
    return perf() - t0


def build_store_alone(dirs: list[str]) -> tuple[MemoryTreeStore, float, int]:
    store = MemoryTreeStore()
    before = rss()
    elapsed = 0.0
    for rows in batches(dirs):
        t0 = perf()
        store.upsert(rows, INDICES, None)
        elapsed += perf() - t0
    del rows
    grown = rss() - before
    assert store.totals().files == len(dirs) * BATCH
    return store, elapsed, grown


def build_dict_alone(dirs: list[str]) -> tuple[float, int]:
    plain: dict[str, tuple[int, float]] = {}
    before = rss()
    elapsed = sum(dict_build(plain, rows) for rows in batches(dirs))
    grown = rss() - before
    assert len(plain) == len(dirs) * BATCH
    return elapsed, grown


def build_interleaved(dirs: list[str]) -> tuple[float, float]:
    store = MemoryTreeStore()
    plain: dict[str, tuple[int, float]] = {}
    store_time = dict_time = 0.0
    for rows in batches(dirs):
        t0 = perf()
        store.upsert(rows, INDICES, None)
        store_time += perf() - t0
        dict_time += dict_build(plain, rows)
    return store_time, dict_time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1000, help="uuid directories (x1000 files)")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    uploads = 2 if args.smoke else args.uploads
    loops = 2_000 if args.smoke else 200_000
    started = perf()
    dirs = uuid_dirs(uploads)
    total = uploads * BATCH
    next(batches(dirs[:1]))  # warm-up outside the measured region
    print(f"tree: {uploads} uuid dirs x {SUBS} sub dirs x {FILES_PER_SUB} files = {total:,} files\n")

    dict_alone, dict_grown = build_dict_alone(dirs)
    gc.collect()
    store_inter, dict_inter = build_interleaved(dirs)
    gc.collect()
    store, store_alone, store_grown = build_store_alone(dirs)  # kept for the query figures

    store_time = min(store_alone, store_inter)
    dict_time = min(dict_alone, dict_inter)
    rate = total / store_time
    dict_rate = f"plain dict {total / dict_time / 1e6:.2f} M rows/s"
    line(
        "upsert, 1,000-row batches of new files",
        f"{rate / 1e6:.2f} M rows/s",
        f"budget >= 1.50 M rows/s (runs: {total / store_alone / 1e6:.2f}, {total / store_inter / 1e6:.2f})",
        budgets.at_least("upsert of new files", rate / 1e6, 1.5, "M rows/s", dict_rate),
    )
    line(
        "baseline: plain dict path -> (size, mtime)",
        f"{total / dict_time / 1e6:.2f} M rows/s",
        f"(runs: {total / dict_alone / 1e6:.2f}, {total / dict_inter / 1e6:.2f})",
    )
    line("ratio store time / dict time", f"{store_time / dict_time:.2f}x")
    per_file = store_grown / total
    dict_per_entry = f"plain dict {dict_grown / total:.1f} B/entry"
    line(
        "RSS growth per file",
        f"{per_file:.1f} B",
        "budget <= 120 B",
        budgets.at_most("RSS growth per file", per_file, 120, "B", dict_per_entry),
    )
    line("baseline: RSS per entry of the plain dict", f"{dict_grown / total:.1f} B")

    # -- update pass: the same rows again, stamped by realtime -------------------------------
    update_time = 0.0
    updated = dirs[:200]
    for rows in batches(updated):
        t0 = perf()
        store.upsert(rows, INDICES, 1234.5)
        update_time += perf() - t0
    line("upsert, existing files, confirmed_at", f"{len(updated) * BATCH / update_time / 1e6:.2f} M rows/s")

    # -- lookups as the engine does them per batch: the rows' paths, then their parents -------
    paths = [row.path for row in rows]
    parents = [path.rpartition("/")[0] for path in paths]
    for label, probe in (("lookup, 1,000 sibling paths per call", paths), ("lookup, their parents", parents)):
        t0 = perf()
        for _ in range(200):
            store.lookup(probe)
        line(label, f"{200 * BATCH / (perf() - t0) / 1e6:.2f} M paths/s")

    # -- node() of one uuid dir at depth 3 ---------------------------------------------------
    target = dirs[uploads // 2]
    suspects = {f"{target}/sub_1/data_{n}.dat": 1.0 for n in range(0, FILES_PER_SUB, 10)}
    agent_missing = {f"{target}/sub_2/data_{n}.dat": 1.0 for n in range(0, FILES_PER_SUB, 25)}
    flags = {"integrity_suspect": suspects.__contains__, "agent_missing": agent_missing.__contains__}
    answer = store.node(target, depth=3, flags=flags, limit=1000)
    assert answer is not None and answer["files"] == BATCH
    assert sum(len(child["children"]) for child in answer["children"]) == BATCH
    samples = []
    for _ in range(500):
        t0 = perf()
        store.node(target, depth=3, flags=flags, limit=1000)
        samples.append(perf() - t0)
    node_ms = statistics.median(samples) * 1e3
    flat = [
        (f"{target}/sub_{k}/data_{n}.dat", f"data_{n}.dat", 4096 + n, 1.0)
        for k in range(SUBS)
        for n in range(FILES_PER_SUB)
    ]
    base_samples = []
    for _ in range(200):
        t0 = perf()
        [{"path": p, "name": nm, "is_dir": False, "size": s, "mtime": m} for p, nm, s, m in flat]
        base_samples.append(perf() - t0)
    base_ms = statistics.median(base_samples) * 1e3
    line(
        "node(uuid dir, depth 3): 1,005 nodes, median",
        f"{node_ms:.3f} ms",
        "budget <= 1.5 ms",
        budgets.at_most("node(uuid dir, depth 3) median", node_ms, 1.5, "ms", f"bare dicts {base_ms:.3f} ms"),
    )
    line("baseline: 1,000 bare dict literals, median", f"{base_ms:.3f} ms", f"ratio {node_ms / base_ms:.1f}x")

    # -- aggregates --------------------------------------------------------------------------
    n = loops
    t0 = perf()
    for _ in range(n):
        store.aggregate("/")
    agg_us = (perf() - t0) / n * 1e6
    line(
        "aggregate('/')",
        f"{agg_us:.3f} us",
        "budget <= 5 us",
        budgets.at_most("aggregate('/')", agg_us, 5, "us"),
    )
    t0 = perf()
    for _ in range(n):
        store.aggregate(target)
    line("aggregate(uuid dir, 5 levels deep)", f"{(perf() - t0) / n * 1e6:.3f} us")

    # -- search ------------------------------------------------------------------------------
    t0 = perf()
    found = store.search("data_7.dat", "/", flags=flags, limit=10_000)
    line(f"search('data_7.dat') over {total:,} files", f"{(perf() - t0) * 1e3:.0f} ms", f"{len(found)} hits")
    print(f"\n(total {perf() - started:.0f} s)")
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

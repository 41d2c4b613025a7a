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

Run: ``.venv/bin/python benchmarks/store_micro.py`` (20-40 s).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
import uuid
from collections.abc import Iterator

import psutil

from fustor_core.event_model import Row
from fustor_storage_memory import MemoryTreeStore

UUIDS = 1_000
SUBS = 4
FILES_PER_SUB = 250
BATCH = SUBS * FILES_PER_SUB  # one uuid directory per upsert call
TOTAL = UUIDS * BATCH
INDICES = range(BATCH)
perf = time.perf_counter


def uuid_dirs() -> list[str]:
    """The 1,000 uuid directory paths (deterministic, spread over the two-hex-char levels)."""
    out = []
    for i in range(UUIDS):
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


MISSED: list[str] = []


def line(label: str, value: str, note: str = "", ok: bool | None = None) -> None:
    """Print one figure; ``ok`` False records a missed budget (the exit status says so)."""
    verdict = "" if ok is None else ("  OK" if ok else "  OVER BUDGET")
    if ok is False:
        MISSED.append(label)
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
    assert store.totals().files == TOTAL
    return store, elapsed, grown


def build_dict_alone(dirs: list[str]) -> tuple[float, int]:
    plain: dict[str, tuple[int, float]] = {}
    before = rss()
    elapsed = sum(dict_build(plain, rows) for rows in batches(dirs))
    grown = rss() - before
    assert len(plain) == TOTAL
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
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    started = perf()
    dirs = uuid_dirs()
    next(batches(dirs[:1]))  # warm-up outside the measured region
    print(f"tree: {UUIDS} uuid dirs x {SUBS} sub dirs x {FILES_PER_SUB} files = {TOTAL:,} files\n")

    dict_alone, dict_grown = build_dict_alone(dirs)
    gc.collect()
    store_inter, dict_inter = build_interleaved(dirs)
    gc.collect()
    store, store_alone, store_grown = build_store_alone(dirs)  # kept for the query figures

    store_time = min(store_alone, store_inter)
    dict_time = min(dict_alone, dict_inter)
    rate = TOTAL / store_time
    line(
        "upsert, 1,000-row batches of new files",
        f"{rate / 1e6:.2f} M rows/s",
        f"budget >= 1.50 M rows/s (runs: {TOTAL / store_alone / 1e6:.2f}, {TOTAL / store_inter / 1e6:.2f})",
        rate >= 1.5e6,
    )
    line(
        "baseline: plain dict path -> (size, mtime)",
        f"{TOTAL / dict_time / 1e6:.2f} M rows/s",
        f"(runs: {TOTAL / dict_alone / 1e6:.2f}, {TOTAL / dict_inter / 1e6:.2f})",
    )
    line("ratio store time / dict time", f"{store_time / dict_time:.2f}x")
    line("RSS growth per file", f"{store_grown / TOTAL:.1f} B", "budget <= 120 B", store_grown / TOTAL <= 120)
    line("baseline: RSS per entry of the plain dict", f"{dict_grown / TOTAL:.1f} B")

    # -- update pass: the same rows again, stamped by realtime -------------------------------
    update_time = 0.0
    for rows in batches(dirs[:200]):
        t0 = perf()
        store.upsert(rows, INDICES, 1234.5)
        update_time += perf() - t0
    line("upsert, existing files, confirmed_at", f"{200 * BATCH / update_time / 1e6:.2f} M rows/s")

    # -- lookups as the engine does them per batch: the rows' paths, then their parents -------
    paths = [row.path for row in rows]
    parents = [path.rpartition("/")[0] for path in paths]
    for label, probe in (("lookup, 1,000 sibling paths per call", paths), ("lookup, their parents", parents)):
        t0 = perf()
        for _ in range(200):
            store.lookup(probe)
        line(label, f"{200 * BATCH / (perf() - t0) / 1e6:.2f} M paths/s")

    # -- node() of one uuid dir at depth 3 ---------------------------------------------------
    target = dirs[UUIDS // 2]
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
        node_ms <= 1.5,
    )
    line("baseline: 1,000 bare dict literals, median", f"{base_ms:.3f} ms", f"ratio {node_ms / base_ms:.1f}x")

    # -- aggregates --------------------------------------------------------------------------
    n = 200_000
    t0 = perf()
    for _ in range(n):
        store.aggregate("/")
    agg_us = (perf() - t0) / n * 1e6
    line("aggregate('/')", f"{agg_us:.3f} us", "budget <= 5 us", agg_us <= 5)
    t0 = perf()
    for _ in range(n):
        store.aggregate(target)
    line("aggregate(uuid dir, 5 levels deep)", f"{(perf() - t0) / n * 1e6:.3f} us")

    # -- search ------------------------------------------------------------------------------
    t0 = perf()
    found = store.search("data_7.dat", "/", flags=flags, limit=10_000)
    line("search('data_7.dat') over 1 M files", f"{(perf() - t0) * 1e3:.0f} ms", f"{len(found)} hits")
    print(f"\n(total {perf() - started:.0f} s)")
    if MISSED:
        print("budgets missed: " + "; ".join(MISSED))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Memory and paging of the arbitration lists (issue 9): 1,000,000 entries of each list.

Each list — suspects, tombstones, blind-spot additions, blind-spot deletions — is filled with one
entry per file of the synthetic tree (``treegen``: 4,000 directories × 250 files), the way its
rule fills it (``put_many`` a batch of 1,000 at a time), in a fresh process whose RSS growth is
measured. The file names are interned first, as the tree store holds them. The baseline, in
another fresh process, is the layout before issue 9: a ``dict`` of path -> record ``dict`` (plus
the suspect list's heap of ``(expires_at, path)`` tuples), keeping each row's own path string.

Paging: a page of 1,000 entries from the middle of the 1 M suspects (the cursor is a path), timed
against the old way of answering it (sort every listed path, then slice), and a membership test
(the ``integrity_suspect`` flag of a query answer).

Budgets: ≤ 64 bytes per entry (RSS growth) for every list; a page ≤ 5 ms. Usage:
``python benchmarks/lists_memory.py [--uploads N] [--budget-scale F] [--smoke]``; exits 1 when a
budget is missed (see ``budgets.py``). ``--smoke`` fills 1,000 entries per list.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from treegen import TreeShape

BYTES_BUDGET = 64.0
PAGE_BUDGET_MS = 5.0
BATCH = 1000
LISTS = ("suspects", "tombstones", "blind_spot_additions", "blind_spot_deletions")


def batches(shape: TreeShape) -> Iterator[list[tuple[str, int, float]]]:
    rows = shape.file_rows()
    while chunk := list(islice(rows, BATCH)):
        yield chunk


def new_list(name: str) -> Any:
    """The list exactly as its rule creates it (default bounds from the rule's options)."""
    from fustor_merge_blindspot import BlindSpotOptions
    from fustor_merge_blindspot.rules import BlindSpots
    from fustor_merge_suspect import SuspectOptions
    from fustor_merge_suspect.suspect_list import SuspectList
    from fustor_merge_tombstone import TombstoneOptions
    from fustor_merge_tombstone.rules import new_tombstone_list

    if name == "suspects":
        return SuspectList(SuspectOptions().max_entries)
    if name == "tombstones":
        return new_tombstone_list(TombstoneOptions().max_entries)
    spots = BlindSpots.empty(BlindSpotOptions().max_entries)
    return spots.additions if name == "blind_spot_additions" else spots.deletions


def fill_new(name: str, shape: TreeShape) -> Any:
    entries = new_list(name)
    now = 1_800_000_000.0
    for n, chunk in enumerate(batches(shape)):
        paths = [path for path, _, _ in chunk]
        if name == "suspects":
            mtimes = [mtime for _, _, mtime in chunk]
            entries.put_many(paths, mtime=mtimes, marked_at=now + n, expires_at=now + 600 + n, reason="hot")
        elif name == "tombstones":
            entries.put_many(paths, deleted_at=now + n, mtime=now + n)
        elif name == "blind_spot_additions":
            entries.put_many(
                paths, mtime=[m for _, _, m in chunk], size=[s for _, s, _ in chunk], found_at=now + n
            )
        else:
            entries.put_many(paths, deleted_at=now + n)
    return entries


def fill_old(name: str, shape: TreeShape) -> Any:
    """The layout before issue 9: one dict per entry, the row's path string as the key."""
    entries: dict[str, dict[str, Any]] = {}
    expiries: list[tuple[float, str]] = []
    now = 1_800_000_000.0
    for n, chunk in enumerate(batches(shape)):
        for path, size, mtime in chunk:
            if name == "suspects":
                entries[path] = {
                    "mtime": mtime,
                    "marked_at": now + n,
                    "expires_at": now + 600 + n,
                    "reason": "hot",
                }
                heapq.heappush(expiries, (now + 600 + n, path))
            elif name == "tombstones":
                entries[path] = {"deleted_at": now + n, "mtime": now + n}
            elif name == "blind_spot_additions":
                entries[path] = {"mtime": mtime, "size": size, "found_at": now + n}
            else:
                entries[path] = {"deleted_at": now + n}
    return entries, expiries


def measure(name: str, layout: str, uploads: int) -> dict[str, Any]:
    """Runs in a fresh process: RSS growth of one filled list (and paging for the suspects)."""
    shape = TreeShape(uploads=uploads)
    names = [sys.intern(f"data_{i}.dat") for i in range(shape.files_per_dir)]  # the tree's names
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss
    started = time.perf_counter()
    filled = fill_new(name, shape) if layout == "new" else fill_old(name, shape)
    fill_s = time.perf_counter() - started
    gc.collect()
    result: dict[str, Any] = {
        "bytes_per_entry": (process.memory_info().rss - before) / shape.files,
        "fill_us_per_entry": fill_s / shape.files * 1e6,
    }
    if name == "suspects":
        leaf = list(shape.leaf_dirs())[len(list(shape.leaf_dirs())) // 2]
        cursor = f"{leaf}/{names[0]}"
        if layout == "new":
            assert len(filled) == shape.files
            pages = []
            for _ in range(50):
                t0 = time.perf_counter()
                page = filled.page(after=cursor, limit=1000)
                pages.append((time.perf_counter() - t0) * 1000)
            assert page, "the cursor lies in the middle of the list"
            probes = [f"{leaf}/{n}" for n in names] * 40
            t0 = time.perf_counter()
            hits = sum(map(filled.__contains__, probes))
            result["contains_ns"] = (time.perf_counter() - t0) / len(probes) * 1e9
            assert hits == len(probes)
        else:
            entries = filled[0]
            pages = []
            for _ in range(3):
                t0 = time.perf_counter()
                chosen = sorted(p for p in entries if p > cursor)[:1000]
                page = [{"path": p, **entries[p]} for p in chosen]
                pages.append((time.perf_counter() - t0) * 1000)
            probes = [f"{leaf}/{n}" for n in names] * 40
            t0 = time.perf_counter()
            sum(map(entries.__contains__, probes))
            result["contains_ns"] = (time.perf_counter() - t0) / len(probes) * 1e9
        result["page_ms"] = statistics.median(pages)
    return result


def run_fresh(name: str, layout: str, uploads: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--measure", name, "--layout", layout, "--uploads", str(uploads)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uploads", type=int, default=1000, help="uuid directories (x1000 entries)")
    parser.add_argument("--measure", choices=LISTS, help=argparse.SUPPRESS)
    parser.add_argument("--layout", choices=("new", "old"), help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.layout, args.uploads)))
        return 0
    if args.smoke:
        args.uploads = 1
    budgets = Budgets.from_args(args)

    entries = TreeShape(uploads=args.uploads).files
    print(f"{entries:,} entries per list, each measured in a fresh process\n")
    print(f"{'list':<24}{'bytes/entry':>12}{'old layout':>12}{'fill µs/entry':>15}{'old':>8}")
    results = {}
    for name in LISTS:
        new, old = run_fresh(name, "new", args.uploads), run_fresh(name, "old", args.uploads)
        results[name] = (new, old)
        print(
            f"{name:<24}{new['bytes_per_entry']:>12.1f}{old['bytes_per_entry']:>12.1f}"
            f"{new['fill_us_per_entry']:>15.2f}{old['fill_us_per_entry']:>8.2f}",
            flush=True,
        )
    new, old = results["suspects"]
    print(
        f"\npage of 1,000 suspects after a cursor in the middle: {new['page_ms']:.2f} ms p50; "
        f"old layout (sort per request): {old['page_ms']:.0f} ms"
    )
    print(
        f"membership test (a query's flag): {new['contains_ns']:.0f} ns; "
        f"old dict: {old['contains_ns']:.0f} ns\n"
    )
    for name, (new, old) in results.items():
        budgets.at_most(
            f"{name}: bytes per entry (RSS growth)",
            new["bytes_per_entry"],
            BYTES_BUDGET,
            "B",
            f"old layout {old['bytes_per_entry']:.0f} B",
        )
    new, old = results["suspects"]
    budgets.at_most(
        "page of 1,000 suspects", new["page_ms"], PAGE_BUDGET_MS, "ms", f"old layout {old['page_ms']:.0f} ms"
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

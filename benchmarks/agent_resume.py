"""Agent resume (issue 12): saving and loading the directory cache of a 100,000-directory tree,
and the audit a restarted agent runs from it — each beside the snapshot walk it replaces,
measured in the same run.

The tree: 100 projects × 50 runs × 20 samples (100,000 leaf directories, 105,101 in all) named
like real uploads (``/proj_07_3f9a1c2e/run_20240311_a41c9e/sample_0c5e9b1d7a22``), one empty
file per leaf, every mtime a different time in the month before the run (settled: the snapshot
caches every directory; distinct: the file's size is not flattered by repeated mtimes), built
once on disk under ``--root`` (reused when present). The run, all in this process on the real
file-system source and the agent's own cache file:

1. baseline: the source's snapshot walk of the tree (what an agent without a cache must do;
   it also fills the cache with real values), best of two;
2. save the cache (``DirCacheFile.save``: encode, compress, write, fsync, rename), best of three:
   budget ≤ 1 s and ≤ 15 % of the walk; size ≤ 40 bytes per directory;
3. load it back (``DirCacheFile.load``: read, check, decompress, decode), best of three: budget
   ≤ 1 s and ≤ 15 % of the walk;
4. the resumed audit of the unchanged tree from the *loaded* cache: no file rows, every directory
   skipped (else the run fails), budget ≤ 60 % of the walk. On this tree of one file per
   directory the walk is mostly directory visits, which the audit still pays (one ``lstat`` per
   directory); on the agent benchmark's tree (250 files per directory) a no-change audit costs
   3–4 % of the walk.

Usage: ``python benchmarks/agent_resume.py [--root /tmp/fustor-bench/dirs100k] [--budget-scale F]
[--smoke]``; exits 1 when a budget is missed (see ``budgets.py``). ``--smoke`` uses 1,000 leaf
directories in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fustor_agent.dircache_file import DirCacheFile, SavedListing
from fustor_source_fs import FsSource, FsSourceOptions

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments

TREE_VERSION = "named-2"
"""Changes when the tree's shape does, so a tree built by an older version is rebuilt."""


def shape(smoke: bool) -> tuple[int, int, int]:
    return (10, 10, 10) if smoke else (100, 50, 20)


def build_tree(root: Path, fanout: tuple[int, int, int]) -> int:
    """The tree (once); returns how many directories it has, the root included."""
    top, middle, leaves = fanout
    total = 1 + top + top * middle + top * middle * leaves
    marker = root.with_name(root.name + ".complete")
    if marker.exists() and marker.read_text().strip() == f"{TREE_VERSION} {total}":
        return total
    if root.exists():
        shutil.rmtree(root)
    print(f"building {total:,} directories under {root} (once) ...", flush=True)
    started = time.perf_counter()
    draw = random.Random(12)
    for p in range(top):
        project = root / f"proj_{p:02d}_{draw.getrandbits(32):08x}"
        for _ in range(middle):
            run = project / f"run_2024{draw.randint(101, 1231):04d}_{draw.getrandbits(24):06x}"
            for _ in range(leaves):
                leaf = run / f"sample_{draw.getrandbits(48):012x}"
                leaf.mkdir(parents=True)
                (leaf / "data.dat").touch()
    now_ns = time.time_ns()
    month_ns = 30 * 86400 * 10**9
    for directory, _, files in os.walk(root, topdown=False):
        for name in files:
            settled = now_ns - 3600 * 10**9 - draw.randrange(month_ns)
            os.utime(os.path.join(directory, name), ns=(settled, settled))
        settled = now_ns - 3600 * 10**9 - draw.randrange(month_ns)
        os.utime(directory, ns=(settled, settled))
    marker.write_text(f"{TREE_VERSION} {total}")
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)
    return total


def best_of(times: int, action: Callable[[], Any]) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(times):
        started = time.perf_counter()
        result = action()
        best = min(best, time.perf_counter() - started)
    return best, result


def snapshot_walk(source: FsSource) -> dict[str, Any]:
    cache: dict[str, Any] = {}
    rows = sum(len(batch) for batch in source.snapshot(threading.Event(), 1000, cache))
    assert rows > 0
    return cache


def audit_walk(source: FsSource, cache: dict[str, Any]) -> tuple[int, int, int]:
    """Rows of files, directories listed and directories skipped by one audit."""
    files = listed = skipped = 0
    for batch in source.audit(threading.Event(), 1000, cache):
        for row in batch:
            if not row.get("is_dir"):
                files += 1
            elif row.get("audit_skipped"):
                skipped += 1
            else:
                listed += 1
    return files, listed, skipped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", help="where the on-disk tree lives (default /tmp/fustor-bench/dirs100k)")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    scratch = Path(tempfile.mkdtemp(prefix="fustor-resume-bench-"))
    try:
        root = (
            Path(args.root)
            if args.root
            else (scratch / "tree" if args.smoke else Path("/tmp/fustor-bench/dirs100k"))
        )
        return run(root, scratch, shape(args.smoke), budgets)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def run(root: Path, scratch: Path, fanout: tuple[int, int, int], budgets: Budgets) -> int:
    directories = build_tree(root, fanout)
    source = FsSource(FsSourceOptions(path=str(root)))
    walk_s, cache = best_of(2, lambda: snapshot_walk(source))
    assert len(cache) == directories, f"the snapshot cached {len(cache):,} of {directories:,} directories"
    print(f"baseline: snapshot walk of {directories:,} directories: {walk_s:.3f} s", flush=True)
    baseline = f"snapshot walk {walk_s:.3f} s"

    file = DirCacheFile(scratch / "state" / "demo" / "dircache")
    listing = SavedListing(
        view_id="v-bench",
        view_seq=1,
        source_uri=source.uri,
        saved_at=time.time(),
        entries=cache,
        scan="snapshot",
    )
    save_s, report = best_of(3, lambda: file.save(listing))
    size = report.bytes
    print(
        f"save: {save_s * 1000:.0f} ms ({save_s / walk_s:.1%} of the walk), {size:,} bytes "
        f"= {size / directories:.1f} bytes per directory",
        flush=True,
    )
    load_s, loaded = best_of(3, file.load)
    assert loaded is not None
    saved, _ = loaded
    assert len(saved.entries) == directories
    print(f"load: {load_s * 1000:.0f} ms ({load_s / walk_s:.1%} of the walk)", flush=True)

    audit_s, (files, listed, skipped) = best_of(1, lambda: audit_walk(source, saved.entries))
    print(
        f"resumed audit from the loaded cache: {audit_s:.3f} s ({audit_s / walk_s:.1%} of the walk), "
        f"{files} file rows, {listed} directories listed, {skipped:,} skipped",
        flush=True,
    )
    if files or listed or skipped != directories:
        print("ERROR: the loaded cache did not let the audit skip the unchanged tree", flush=True)
        return 1

    budgets.at_most("cache save, 100k directories", save_s, 1.0, "s", baseline)
    budgets.at_most("cache save / snapshot walk", save_s / walk_s * 100, 15, "%", baseline)
    budgets.at_most("cache size", size / directories, 40, "bytes/directory", f"{directories:,} directories")
    budgets.at_most("cache load, 100k directories", load_s, 1.0, "s", baseline)
    budgets.at_most("cache load / snapshot walk", load_s / walk_s * 100, 15, "%", baseline)
    budgets.at_most("resumed audit / snapshot walk", audit_s / walk_s * 100, 60, "%", baseline)
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

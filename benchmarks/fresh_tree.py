"""The fresh tree (issue 9): a 1,000,000-file upload written just before the agent starts, every
file inside ``hot_window_s`` and so suspect, against the same tree with hour-old mtimes.

Both runs use real ``fustor-fusion serve`` and ``fustor-agent run`` processes (a new pair each)
on the synthetic tree of ``treegen`` built once under ``--root``:

1. aged: every file's mtime set two hours back (``os.utime``), then the initial sync is timed
   from the agent's start until Fusion's stats count every file; Fusion's RSS is sampled;
2. fresh: every file's mtime set to now just before the agent starts, the same measurement;
   Fusion must list every file as suspect.

Each tree is synced ``--repeat`` times (default 2), aged and fresh alternating, and the fastest
sync of each counts: other work on a shared machine slows single runs by seconds. Budgets: the
fresh tree's Fusion RSS (the peak sampled during any of its syncs and once the snapshot has
ended) ≤ 250 MB, and its initial sync ≤ 1.2× the aged tree's, both measured in this run. The CPU
time Fusion and the agent used until the sync completed is printed too: it shows what the
suspect list costs without the noise of wall time.

Usage: ``python benchmarks/fresh_tree.py [--root /tmp/fustor-bench/tree1m-fresh] [--uploads N]
[--repeat N] [--budget-scale F] [--smoke]``; exits 1 when a budget is missed (see ``budgets.py``).
``--smoke`` syncs one ``{uuid}`` (1,000 files) once each, in a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from fustor_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parent))
from agent_sync import BIN, INGEST_KEY, QUERY_KEY, TOKEN, build_tree, start, wait
from budgets import Budgets, add_arguments
from treegen import TreeShape, smoke_tree_root

RSS_BUDGET_MB = 250.0
SYNC_RATIO_BUDGET = 1.2
AGED_BY_S = 2 * 3600.0


def set_mtimes(root: Path, mtime: float) -> float:
    """Give every file and directory of the tree ``mtime``, then write the million changed inodes
    out (``sync``) so that their writeback does not compete with the sync being measured — nor
    with the next run's; returns how long it took."""
    started = time.perf_counter()
    for directory, _, files in os.walk(root):
        for name in files:
            os.utime(os.path.join(directory, name), (mtime, mtime))
        os.utime(directory, (mtime, mtime))
    os.sync()
    return time.perf_counter() - started


def configs(work: Path, root: Path, fusion_url: str) -> None:
    keys = [{"key": INGEST_KEY, "scopes": ["ingest"]}, {"key": QUERY_KEY, "scopes": ["query"]}]
    # memory only: each run starts a new Fusion that must not restore the previous run's view
    fusion_config = {"journal": {"driver": "none"}, "datastores": {"bench": {"api_keys": keys}}}
    (work / "fusion.yaml").write_text(yaml.safe_dump(fusion_config))
    pipe = {
        "datastore": "bench",
        "source": {"driver": "fs", "path": str(root)},
        "pusher": {"driver": "http", "url": fusion_url, "api_key": INGEST_KEY},
        "modes": {"audit": {"interval_s": 3600}, "sentinel": {"interval_s": 3600}},
    }
    (work / "agent.yaml").write_text(
        yaml.safe_dump({"agent_id": "bench-agent", "api": {"token": TOKEN}, "pipes": [pipe]})
    )


def initial_sync(root: Path, total_files: int, *, fresh: bool) -> dict[str, Any]:
    """One Fusion + agent pair: the tree's mtimes set, then the sync timed and Fusion's RSS sampled."""
    work = Path(tempfile.mkdtemp(prefix="fustor-fresh-bench-"))
    fusion_port, agent_port = free_port(), free_port()
    fusion_url = f"http://127.0.0.1:{fusion_port}"
    configs(work, root, fusion_url)
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
    agent: subprocess.Popen[bytes] | None = None
    query = httpx.Client(base_url=fusion_url, headers={"X-API-Key": QUERY_KEY}, timeout=30)
    try:
        wait(lambda: httpx.get(f"{fusion_url}/readyz").status_code == 200, 30, "Fusion")
        fusion_process = psutil.Process(fusion.pid)
        mtime = time.time() - (0.0 if fresh else AGED_BY_S)
        touch_s = set_mtimes(root, mtime)
        started = time.perf_counter()
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
        agent_process = psutil.Process(agent.pid)
        peak = 0
        synced_s = None
        fusion_cpu = agent_cpu = 0.0
        while synced_s is None:
            peak = max(peak, fusion_process.memory_info().rss)
            if agent.poll() is not None:
                raise SystemExit(f"the agent died:\n{(work / 'agent.log').read_text()[-3000:]}")
            try:
                if query.get("/api/v1/views/bench/stats").json()["files"] >= total_files:
                    synced_s = time.perf_counter() - started
                    fusion_cpu, agent_cpu = (sum(p.cpu_times()[:2]) for p in (fusion_process, agent_process))
            except (httpx.HTTPError, KeyError):
                pass
            if time.perf_counter() - started > 300:
                raise SystemExit("initial sync did not finish in 300 s")
            time.sleep(0.1)
        api = httpx.Client(base_url=f"http://127.0.0.1:{agent_port}", timeout=30)
        wait(
            lambda: api.get("/api/v1/status").json()["pipes"][0]["modes"]["snapshot"].get("runs") == 1,
            60,
            "snapshot end",
        )
        settled = fusion_process.memory_info().rss
        stats = query.get("/api/v1/views/bench/stats").json()
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        fusion.terminate()
        fusion.wait(30)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "sync_s": synced_s,
        "touch_s": touch_s,
        "peak_mb": max(peak, settled) / 2**20,
        "settled_mb": settled / 2**20,
        "suspects": stats["suspects"],
        "fusion_cpu_s": fusion_cpu,
        "agent_cpu_s": agent_cpu,
        "files": stats["files"],
    }


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest run's figures, with the highest RSS seen in any run."""
    fastest = dict(min(runs, key=lambda run: run["sync_s"]))
    fastest["peak_mb"] = max(run["peak_mb"] for run in runs)
    fastest["settled_mb"] = max(run["settled_mb"] for run in runs)
    return fastest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--root", default="/tmp/fustor-bench/tree1m-fresh", help="where the on-disk tree lives"
    )
    parser.add_argument("--uploads", type=int, default=1000, help="uuid directories (x1000 files)")
    parser.add_argument("--repeat", type=int, default=2, help="runs of each tree; the fastest counts")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.repeat = 1, 1
    with smoke_tree_root(args, prefix="fustor-fresh-smoke-", replace_given=True):
        return run(args, budgets)


def run(args: argparse.Namespace, budgets: Budgets) -> int:
    shape = TreeShape(uploads=args.uploads)
    root = Path(args.root)
    build_tree(root, shape)
    total = shape.files

    runs: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for _ in range(args.repeat):  # alternated, so that a burst of load elsewhere hits both alike
        for is_fresh in (False, True):
            runs[is_fresh].append(initial_sync(root, total, fresh=is_fresh))
    aged, fresh = (best(runs[is_fresh]) for is_fresh in (False, True))
    for label, is_fresh in (("aged", False), ("fresh", True)):
        print(f"{label} runs: " + ", ".join(f"{run['sync_s']:.2f} s" for run in runs[is_fresh]))

    ratio = fresh["sync_s"] / aged["sync_s"]
    print()
    print(f"tree of {total:,} files (mtimes set in {aged['touch_s']:.1f} s / {fresh['touch_s']:.1f} s)")
    print(
        f"aged tree (mtimes {AGED_BY_S / 3600:.0f} h old):  initial sync {aged['sync_s']:.2f} s, "
        f"Fusion RSS {aged['settled_mb']:.0f} MB (peak {aged['peak_mb']:.0f} MB), "
        f"{aged['suspects']:,} suspects"
    )
    print(
        f"fresh tree (mtimes now):       initial sync {fresh['sync_s']:.2f} s, "
        f"Fusion RSS {fresh['settled_mb']:.0f} MB (peak {fresh['peak_mb']:.0f} MB), "
        f"{fresh['suspects']:,} suspects"
    )
    print(
        f"fresh/aged sync: {ratio:.2f}x (budget <= {SYNC_RATIO_BUDGET}x); fresh Fusion peak RSS "
        f"{fresh['peak_mb']:.0f} MB (budget <= {RSS_BUDGET_MB:.0f} MB); "
        f"suspect list: {(fresh['settled_mb'] - aged['settled_mb']) * 2**20 / total:.0f} bytes per "
        "suspect (RSS difference)"
    )
    for label, run in (("aged", aged), ("fresh", fresh)):
        print(
            f"  {label}: CPU time until synced: Fusion {run['fusion_cpu_s']:.1f} s, "
            f"agent {run['agent_cpu_s']:.1f} s"
        )
    print("before issue 9: fresh 606 MB / 15.6 s against aged 141 MB / 9.0 s")
    if fresh["suspects"] != total or aged["suspects"] != 0:
        raise SystemExit(
            f"every fresh file must be suspect and no aged one: {fresh['suspects']}, {aged['suspects']}"
        )
    budgets.at_most(
        "fresh tree: Fusion RSS",
        fresh["peak_mb"],
        RSS_BUDGET_MB,
        "MB",
        f"aged tree {aged['peak_mb']:.0f} MB; before issue 9 606 MB against 141 MB",
    )
    budgets.at_most(
        "fresh tree: initial sync / aged tree's",
        ratio,
        SYNC_RATIO_BUDGET,
        "x",
        f"aged tree {aged['sync_s']:.2f} s, fresh {fresh['sync_s']:.2f} s; "
        "before issue 9 15.6 s against 9.0 s",
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

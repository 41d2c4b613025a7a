"""Agent budgets (issue 4): initial sync of a 1,000,000-file tree, realtime latency, no-change
audit, agent memory — each printed beside a baseline measured in the same run.

The tree is the synthetic upload area of ``treegen`` (1,000 ``{uuid}`` × 4 ``sub_k`` × 250 empty
files, mtimes in the past) built once on disk under ``--root`` (reused when present). The run:

1. baseline: ``find ROOT -printf '%p %s %T@\\n'`` (what the sync replaces), timed;
2. a real ``fustor-fusion serve`` and a real ``fustor-agent run`` with the minimal config; the
   initial sync is timed from the agent's start until Fusion's stats count every file, while
   the agent's RSS is sampled (budgets: ≤ 20 s, ≤ 120 MB);
3. realtime: 100 files written one at a time 0.2 s apart; latency = write → visible in Fusion's
   tree, polled on a keep-alive connection (budgets: p50 ≤ 15 ms, p99 ≤ 50 ms);
4. a no-change audit requested through the agent API: it must send no file rows and take ≤ 25%
   of the snapshot walk's time (the walk alone, measured in this process on the same tree). The
   deep audit is off for it (``modes.audit.deep_period_s: 0``): its slice would list files on purpose.

Usage: ``python benchmarks/agent_sync.py [--root /tmp/fustor-bench/tree1m] [--uploads N]
[--budget-scale F] [--smoke]``; exits 1 when a budget is missed (see ``budgets.py``). ``--smoke``
uses one ``{uuid}`` (1,000 files) in a temporary directory and 3 realtime writes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml

from fustor_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from treegen import TreeShape, smoke_tree_root

BIN = Path(sys.executable).parent
INGEST_KEY, QUERY_KEY, TOKEN = "bench-ingest", "bench-query", "bench-token"


def build_tree(root: Path, shape: TreeShape) -> None:
    """Empty files with the shape's mtimes; a marker *beside* the tree says it is complete."""
    marker = root.with_name(root.name + ".complete")
    if marker.exists() and marker.read_text().strip() == str(shape.files):
        return
    if root.exists():
        shutil.rmtree(root)
    print(f"building {shape.files:,} files under {root} (once) ...", flush=True)
    started = time.perf_counter()
    for leaf in shape.leaf_dirs():
        os.makedirs(f"{root}{leaf}", exist_ok=True)
    for path, _, mtime in shape.file_rows():
        fd = os.open(f"{root}{path}", os.O_CREAT | os.O_WRONLY, 0o644)
        os.utime(fd, (mtime, mtime))
        os.close(fd)
    # settled directories too, even right after building (--smoke): a directory modified within
    # the source's racy window is not cached by the snapshot, and the no-change audit lists it
    settled = time.time() - 3600
    for directory, _, _ in os.walk(root, topdown=False):
        os.utime(directory, (settled, settled))
    marker.write_text(str(shape.files))
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def time_find(root: Path) -> float:
    started = time.perf_counter()
    subprocess.run(["find", str(root), "-printf", r"%p %s %T@\n"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def time_snapshot_walk(root: Path) -> float:
    """The source's snapshot walk alone, in this process (no encoding, no sending)."""
    from fustor_source_fs import FsSource, FsSourceOptions

    source = FsSource(FsSourceOptions(path=str(root)))
    started = time.perf_counter()
    rows = sum(len(batch) for batch in source.snapshot(threading.Event(), 1000, {}))
    elapsed = time.perf_counter() - started
    assert rows > 0
    return elapsed


def start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)


def wait(condition: Any, timeout: float, what: str, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
            if value:
                return value
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(interval)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", help="where the on-disk tree lives (default /tmp/fustor-bench/tree1m)")
    parser.add_argument("--uploads", type=int, default=1000, help="uuid directories (x1000 files)")
    parser.add_argument("--batch-size", type=int, help="the pipe's batch_size (default: the agent's default)")
    parser.add_argument("--writes", type=int, default=100, help="realtime writes")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.writes = 1, 3
    with smoke_tree_root(args, prefix="fustor-agent-smoke-"):
        return run(args, budgets)


def run(args: argparse.Namespace, budgets: Budgets) -> int:
    shape = TreeShape(uploads=args.uploads)
    root = Path(args.root or "/tmp/fustor-bench/tree1m")
    build_tree(root, shape)
    total_files = shape.files

    find_s = min(time_find(root), time_find(root))  # warm caches, best of two
    print(f"baseline find -printf over {total_files:,} files: {find_s:.2f} s", flush=True)

    work = Path(tempfile.mkdtemp(prefix="fustor-agent-bench-"))
    fusion_port, agent_port = free_port(), free_port()
    fusion_url = f"http://127.0.0.1:{fusion_port}"
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
                "api": {"token": TOKEN},
                "pipes": [
                    {
                        "datastore": "bench",
                        "source": {"driver": "fs", "path": str(root)},
                        "pusher": {"driver": "http", "url": fusion_url, "api_key": INGEST_KEY},
                        "modes": {
                            # the no-change audit measures the skip path: no deep slice in it
                            "audit": {"interval_s": 3600, "deep_period_s": 0},
                            "sentinel": {"interval_s": 3600},
                        },
                        **({"batch_size": args.batch_size} if args.batch_size else {}),
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
    agent: subprocess.Popen[bytes] | None = None
    query = httpx.Client(base_url=fusion_url, headers={"X-API-Key": QUERY_KEY}, timeout=30)
    try:
        wait(lambda: httpx.get(f"{fusion_url}/readyz").status_code == 200, 30, "Fusion")

        # -- initial sync ---------------------------------------------------------------------
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
        process = psutil.Process(agent.pid)
        peak_rss = 0
        synced_s = None
        while synced_s is None:
            try:
                peak_rss = max(peak_rss, process.memory_info().rss)
            except psutil.Error:
                raise SystemExit(f"the agent died:\n{(work / 'agent.log').read_text()[-3000:]}") from None
            try:
                if query.get("/api/v1/views/bench/stats").json()["files"] >= total_files:
                    synced_s = time.perf_counter() - started
            except (httpx.HTTPError, KeyError):
                pass
            if time.perf_counter() - started > 300:
                raise SystemExit("initial sync did not finish in 300 s")
            time.sleep(0.1)
        api = httpx.Client(base_url=f"http://127.0.0.1:{agent_port}", timeout=30)

        def pipe_status() -> dict[str, Any]:
            return api.get("/api/v1/status").json()["pipes"][0]  # type: ignore[no-any-return]

        wait(lambda: pipe_status()["modes"]["snapshot"].get("runs") == 1, 60, "snapshot end")
        snapshot = pipe_status()["modes"]["snapshot"]

        # -- realtime latency -------------------------------------------------------------------
        bench_dir = root / "upload" / "realtime-bench"
        bench_dir.mkdir(exist_ok=True)
        wait(
            lambda: (
                query.get("/api/v1/views/bench/tree", params={"path": "/upload/realtime-bench"}).status_code
                == 200
            ),
            10,
            "the realtime directory",
        )
        latencies: list[float] = []
        for i in range(args.writes):
            path = f"/upload/realtime-bench/f{i}"
            written = time.perf_counter()
            with open(f"{root}{path}", "wb") as handle:
                handle.write(b"x")
            while query.get("/api/v1/views/bench/tree", params={"path": path, "depth": 0}).status_code != 200:
                if time.perf_counter() - written > 5:
                    raise SystemExit(f"{path} never reached Fusion")
            latencies.append((time.perf_counter() - written) * 1000)
            time.sleep(0.2)
        shutil.rmtree(bench_dir)

        # -- no-change audit ---------------------------------------------------------------------
        wait(
            lambda: (
                query.get("/api/v1/views/bench/tree", params={"path": "/upload/realtime-bench"}).status_code
                == 404
            ),
            10,
            "the realtime directory to go",
        )
        before = pipe_status()["counters"]
        response = api.post("/api/v1/pipes/bench/audit", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 202, response.text
        wait(lambda: pipe_status()["modes"]["audit"].get("runs") == 1, 120, "the audit")
        audit = pipe_status()["modes"]["audit"]
        after = pipe_status()["counters"]
        audit_rows = after.get("audit_rows_read", 0) - before.get("audit_rows_read", 0)
        walk_s = time_snapshot_walk(root)
    finally:
        if agent is not None:
            agent.terminate()
            agent.wait(30)
        fusion.terminate()
        fusion.wait(30)

    p50, p99 = statistics.median(latencies), percentile(latencies, 0.99)
    rss_mb = peak_rss / 2**20
    ratio = audit["last_duration_s"] / walk_s
    print()
    print(
        f"initial sync of {total_files:,} files: {synced_s:.2f} s (budget <= 20 s); "
        f"find -printf: {find_s:.2f} s; ratio {synced_s / find_s:.1f}x"
    )
    print(
        f"  agent snapshot walk+send {snapshot.get('scanned_s')} s, end signal acked at "
        f"{snapshot.get('last_duration_s')} s after the snapshot started"
    )
    print(f"agent peak RSS during the snapshot: {rss_mb:.0f} MB (budget <= 120 MB)")
    print(
        f"realtime write -> visible in Fusion, {len(latencies)} writes: p50 {p50:.1f} ms (budget <= 15), "
        f"p99 {p99:.1f} ms (budget <= 50), max {max(latencies):.1f} ms"
    )
    print(
        f"no-change audit: {audit['last_duration_s']:.3f} s end to end, {audit.get('files', '?')} file rows, "
        f"{audit_rows} rows sent ({audit.get('dirs_skipped')} directories skipped, "
        f"{audit.get('dirs_listed')} listed); snapshot walk alone: {walk_s:.2f} s; "
        f"ratio {ratio:.1%} (budget <= 25%)"
    )
    budgets.at_most("initial sync", synced_s, 20, "s", f"find -printf {find_s:.2f} s")
    budgets.at_most("agent peak RSS during the snapshot", rss_mb, 120, "MB", "earlier implementation 89 MB")
    budgets.at_most("realtime latency p50", p50, 15, "ms", "earlier implementation ~25 ms")
    budgets.at_most("realtime latency p99", p99, 50, "ms")
    budgets.at_most("no-change audit / snapshot walk", ratio * 100, 25, "%", f"snapshot walk {walk_s:.2f} s")
    shutil.rmtree(work, ignore_errors=True)
    code = budgets.verdict()
    if audit.get("files", 1) != 0:  # not a budget: an audit of an unchanged tree that lists files is wrong
        print(f"FAILED: the no-change audit sent {audit.get('files')} file rows (must be 0)")
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())

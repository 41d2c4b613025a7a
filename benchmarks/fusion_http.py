"""Fusion HTTP budgets (issue 3): ingest rate over loopback, subtree and stats latency, RSS, vs find.

Runs ``fustor-fusion serve`` as a subprocess (default plugins), pushes the 1,000,000-file
synthetic tree (see ``treegen.py``) as snapshot batches of 1,000 rows from one client over one
keep-alive connection, then asks for one ``{uuid}`` subtree (1,000 files, full depth) 500 times
and for the stats. Baselines measured in the same run: the in-process engine fed the same batches
(``View.apply_event``), and ``find ROOT -name <uuid>`` plus a listing of the hit over an on-disk
copy of the tree (1,000,000 empty files; ``--no-find`` skips building it).

Usage: ``python benchmarks/fusion_http.py [--uploads N] [--no-find] [--requests 500]
[--budget-scale F] [--smoke]``; exits 1 when a budget is missed (see ``budgets.py``).
"""

from __future__ import annotations

import argparse
import gc
import http.client
import os
import queue
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from itertools import islice
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode, urlsplit

import orjson
import psutil

from fustor_core.plugins import get_plugin_manager
from fustor_fusion.engine import View

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from treegen import TreeShape, snapshot_event

BATCH = 1000
INGEST_KEY = "bench-ingest"
QUERY_KEY = "bench-query"
DEFAULT_PLUGINS = ["storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]
# the earlier open-source implementation of this design, measured on this machine (issue 3)
EARLIER = {"tree_p50_ms": 7.7, "tree_p99_ms": 13.2, "find_ms": 1070.0, "stats_ms": 106.0, "rss_mb": 572.0}
TARGETS = {
    "ingest_rows_s": 80_000,
    "tree_p50_ms": 4.0,
    "tree_p99_ms": 8.0,
    "stats_ms": 2.0,
    "rss_mb": 350.0,
    "find_speedup": 250.0,
}


def file_batches(shape: TreeShape) -> list[list[tuple[str, int, float]]]:
    rows = shape.file_rows()
    return [chunk for chunk in iter(lambda: list(islice(rows, BATCH)), [])]


# -- in-process engine baseline ------------------------------------------------------------------


def engine_rate(shape: TreeShape, batches: list[list[tuple[str, int, float]]]) -> float:
    """Rows/s of ``View.apply_event`` alone, same plugins, same batches."""
    view = View("bench", get_plugin_manager(only=DEFAULT_PLUGINS), now=time.time)
    elapsed = 0.0
    for chunk in batches:
        event = snapshot_event(chunk)
        started = time.perf_counter()
        view.apply_event(event)
        elapsed += time.perf_counter() - started
    assert view.stats()["files"] == shape.files
    del view
    gc.collect()
    return shape.files / elapsed


# -- the Fusion process --------------------------------------------------------------------------


def pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    """Forward a process's output lines to a queue (read in a thread, waited on with a deadline)."""
    for line in stream:
        lines.put(line)


def start_fusion(workdir: Path) -> tuple[subprocess.Popen[str], str]:
    config = workdir / "fusion.yaml"
    config.write_text(
        "session_timeout_s: 600\n"
        "log_level: WARNING\n"
        "journal: {driver: none}\n"  # issue 3's figures; fusion_journal.py measures with the journal
        "datastores:\n"
        "  demo:\n"
        "    api_keys:\n"
        f"      - {{key: {INGEST_KEY}, scopes: [ingest]}}\n"
        f"      - {{key: {QUERY_KEY}, scopes: [query]}}\n"
    )
    script = shutil.which("fustor-fusion", path=str(Path(sys.executable).parent)) or "fustor-fusion"
    env = {**os.environ, "FUSTOR_HOME": str(workdir / "home"), "FUSTOR_PLUGINS": ",".join(DEFAULT_PLUGINS)}
    process = subprocess.Popen(
        [script, "serve", "--config", str(config), "--port", "0", "--log-level", "INFO"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr
    threading.Thread(target=pump, args=(stderr, lines), daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            if process.poll() is not None:
                raise SystemExit("fustor-fusion serve exited early") from None
            continue
        match = re.search(r"msg=\"fusion listening\" url=(\S+)", line)
        if match:
            return process, match.group(1)
    raise SystemExit("fustor-fusion serve did not report its URL within 60 s")


class Client:
    """One keep-alive HTTP/1.1 connection, as lean as the standard library allows."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.headers = {"X-API-Key": key, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        self.conn.request(method, path, body=body, headers=self.headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method: str, path: str, body: bytes | None = None) -> Any:
        status, data = self.call(method, path, body)
        if status >= 300:
            raise SystemExit(f"{method} {path}: {status} {data[:300]!r}")
        return orjson.loads(data)


def wait_ready(url: str) -> None:
    client = Client(url, "")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if client.call("GET", "/readyz")[0] == 200:
                return
        except OSError:
            client = Client(url, "")
        time.sleep(0.05)
    raise SystemExit("Fusion not ready within 30 s")


def http_ingest(url: str, batches: list[list[tuple[str, int, float]]]) -> float:
    """Rows/s pushing every batch (pre-encoded, as a pipelining agent would have it ready)."""
    client = Client(url, INGEST_KEY)
    sid = client.json("POST", "/api/v1/ingest/sessions", orjson.dumps({"agent_id": "bench"}))["session_id"]
    index = int(time.time() * 1000)
    bodies = [
        orjson.dumps(
            {
                "seq": seq,
                "events": [
                    {
                        "message_source": "snapshot",
                        "event_type": "insert",
                        "index": index,
                        "rows": [{"path": p, "is_dir": False, "size": s, "mtime": m} for p, s, m in chunk],
                    }
                ],
            }
        )
        for seq, chunk in enumerate(batches, start=1)
    ]
    path = f"/api/v1/ingest/sessions/{sid}/events"
    rows = 0
    started = time.perf_counter()
    for body in bodies:
        answer = client.json("POST", path, body)
        rows += answer["accepted"] + answer["unchanged"]
    elapsed = time.perf_counter() - started
    assert answer["dropped"] == 0
    return rows / elapsed


def latencies_ms(client: Client, paths: list[str]) -> list[float]:
    out = []
    for path in paths:
        started = time.perf_counter()
        status, _ = client.call("GET", path)
        out.append((time.perf_counter() - started) * 1000)
        assert status == 200, path
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- the find baseline ---------------------------------------------------------------------------


def build_disk_tree(shape: TreeShape, root: Path) -> float:
    started = time.perf_counter()
    flags = os.O_CREAT | os.O_WRONLY
    for leaf in shape.leaf_dirs():
        directory = str(root) + leaf
        os.makedirs(directory, exist_ok=True)
        for i in range(shape.files_per_dir):
            os.close(os.open(f"{directory}/data_{i}.dat", flags, 0o644))
    return time.perf_counter() - started


def find_ms(root: Path, upload_id: str) -> float:
    """``find ROOT -name UUID`` then a listing (path, size, mtime) of the hit, as one question."""
    started = time.perf_counter()
    hit = subprocess.run(["find", str(root), "-name", upload_id], capture_output=True, text=True, check=True)
    found = hit.stdout.split()
    assert len(found) == 1, found
    listing = subprocess.run(
        ["find", found[0], "-printf", "%p %s %T@\n"], capture_output=True, text=True, check=True
    )
    elapsed = (time.perf_counter() - started) * 1000
    assert listing.stdout.count("\n") >= 1000
    return elapsed


# -- main ----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories (1,000 files each)")
    parser.add_argument("--requests", type=int, default=500, help="sequential GETs per latency figure")
    parser.add_argument(
        "--find",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="build the on-disk copy and time find against it (default on)",
    )
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.requests = 1, 20
    shape = TreeShape(uploads=args.uploads)
    batches = file_batches(shape)
    print(
        f"tree: {shape.files:,} files in {shape.uploads} uploads, {len(batches)} batches of {BATCH}",
        flush=True,
    )

    engine = engine_rate(shape, batches)
    print(f"in-process engine (View.apply_event): {engine:,.0f} rows/s", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="fustor-bench-http-"))
    process, url = start_fusion(workdir)
    results: dict[str, float] = {}
    try:
        wait_ready(url)
        results["ingest_rows_s"] = http_ingest(url, batches)
        del batches
        gc.collect()
        query = Client(url, QUERY_KEY)
        stats = query.json("GET", "/api/v1/views/demo/stats")
        assert stats["files"] == shape.files, stats
        results["rss_mb"] = psutil.Process(process.pid).memory_info().rss / 2**20

        rng = random.Random(7)
        ids = shape.upload_ids()
        picks = [rng.choice(ids) for _ in range(args.requests)]
        first = query.json(
            "GET", "/api/v1/views/demo/tree?" + urlencode({"path": shape.upload_dir(picks[0]), "depth": -1})
        )
        assert first["files"] == shape.subdirs * shape.files_per_dir, first["files"]
        assert sum(len(sub["children"]) for sub in first["children"]) == first["files"]
        tree_paths = [
            "/api/v1/views/demo/tree?" + urlencode({"path": shape.upload_dir(u), "depth": -1}) for u in picks
        ]
        latencies_ms(query, tree_paths[:20])  # warm-up
        server = psutil.Process(process.pid)
        cpu_before = sum(server.cpu_times()[:2])
        tree = latencies_ms(query, tree_paths)
        # CPU the server spent per request: what the latency would be on an idle machine, less the client
        results["tree_server_cpu_ms"] = (sum(server.cpu_times()[:2]) - cpu_before) * 1000 / len(tree_paths)
        results["tree_p50_ms"] = statistics.median(tree)
        results["tree_p99_ms"] = percentile(tree, 99)
        stats_lat = latencies_ms(query, ["/api/v1/views/demo/stats"] * args.requests)
        results["stats_ms"] = statistics.median(stats_lat)
        results["stats_p99_ms"] = percentile(stats_lat, 99)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()

    if args.find:
        root = workdir / "disk"
        print("building the on-disk copy for find ...", flush=True)
        built = build_disk_tree(shape, root)
        print(f"  {shape.files:,} empty files in {built:.0f} s", flush=True)
        rng = random.Random(11)
        samples = [find_ms(root, rng.choice(shape.upload_ids())) for _ in range(5)]
        results["find_ms"] = statistics.median(samples)
    shutil.rmtree(workdir, ignore_errors=True)

    http_rate = results["ingest_rows_s"]
    print(
        f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (in the latencies)"
    )
    print(f"{'figure':<34}{'measured':>14}{'target':>12}{'earlier impl':>14}")

    def line(name: str, key: str, unit: str, earlier: str = "-", fmt: str = "{:,.2f}") -> None:
        target = TARGETS.get(key)
        shown = f"{'≥' if key in ('ingest_rows_s', 'find_speedup') else '≤'} {target:,.0f}" if target else "-"
        print(f"{name:<34}{fmt.format(results[key]) + ' ' + unit:>14}{shown:>12}{earlier:>14}")

    line("HTTP ingest", "ingest_rows_s", "rows/s", fmt="{:,.0f}")
    print(f"{'in-process engine (same run)':<34}{f'{engine:,.0f} rows/s':>14}")
    print(f"{'HTTP overhead (engine / HTTP)':<34}{f'{engine / http_rate:.2f}x':>14}")
    line("GET tree {uuid} depth=-1 p50", "tree_p50_ms", "ms", f"{EARLIER['tree_p50_ms']} ms")
    line("GET tree {uuid} depth=-1 p99", "tree_p99_ms", "ms", f"{EARLIER['tree_p99_ms']} ms")
    print(f"{'  Fusion CPU per tree request':<34}{results['tree_server_cpu_ms']:>11.2f} ms")
    line("GET stats p50", "stats_ms", "ms", f"{EARLIER['stats_ms']:.0f} ms")
    print(f"{'GET stats p99':<34}{results['stats_p99_ms']:>11.2f} ms")
    line("Fusion RSS with the tree", "rss_mb", "MB", f"{EARLIER['rss_mb']:.0f} MB", fmt="{:,.0f}")
    if "find_ms" in results:
        results["find_speedup"] = results["find_ms"] / results["tree_p50_ms"]
        print(
            f"{'find -name + listing (same run)':<34}{results['find_ms']:>11,.0f} ms{'':>12}"
            f"{EARLIER['find_ms']:>11,.0f} ms"
        )
        line("speed-up vs find (p50)", "find_speedup", "x", fmt="{:,.0f}")
    print()

    budgets.at_least(
        "HTTP ingest",
        http_rate,
        TARGETS["ingest_rows_s"],
        "rows/s",
        f"in-process engine {engine:,.0f} rows/s",
    )
    for key, name in (
        ("tree_p50_ms", "GET tree {uuid} p50"),
        ("tree_p99_ms", "GET tree {uuid} p99"),
        ("stats_ms", "GET stats p50"),
    ):
        budgets.at_most(name, results[key], TARGETS[key], "ms", f"earlier implementation {EARLIER[key]} ms")
    budgets.at_most(
        "Fusion RSS with the tree",
        results["rss_mb"],
        TARGETS["rss_mb"],
        "MB",
        f"earlier implementation {EARLIER['rss_mb']:.0f} MB",
    )
    if "find_speedup" in results:
        budgets.at_least(
            "speed-up vs find (p50)",
            results["find_speedup"],
            TARGETS["find_speedup"],
            "x",
            f"find -name + listing {results['find_ms']:,.0f} ms in the same run",
        )
    else:
        print("speed-up vs find: not measured (--no-find), its budget is not checked")
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

"""Durable views (issue 12): ingest with the journal, restart times, snapshot size — each beside a
baseline measured in the same run.

1. **Ingest.** ``fustor-fusion serve`` with ``journal: {driver: none}`` and then with the default
   sqlite journal, each fed the 1,000,000-file synthetic tree (``treegen.py``) as snapshot
   batches of 1,000 rows from one client over one keep-alive connection, waiting for each answer
   (every answer waits for its record to be durable); ``--rounds`` alternating off/on runs, the
   best of each mode counts (a shared machine's load changes from one run to the next), and
   Fusion's CPU time per row is printed beside as the steadier figure. Budgets: ≥ 200,000
   rows/s with the journal, Fusion RSS ≤ 110 % of the journal-off run.
2. **Restart of the 1 M view.** The journal-on Fusion is stopped with SIGTERM (it writes a
   snapshot) and started again: time from the process start to ``/readyz`` 200, with snapshot
   load and replay reported apart by Fusion. Then a crash: 200,000 more rows, SIGKILL, start —
   the tail is replayed. Baseline: the leader's full re-snapshot of the same tree, i.e. the
   journal-off ingest of step 1 (Fusion's side only: a real agent also walks the export, 5.8 s
   for this tree in ``agent_sync.py``). Budget: ≤ 3 s. Snapshot ≤ 60 bytes per file on disk;
   the ingest pause while the snapshot is dumped is reported.
3. **Restart of a 10 M view** (``--big-uploads 10000``; ``--big-uploads 0`` skips it). The view
   is generated synthetically in this process through the engine — a ``JournaledView`` fed the
   10,000,000-file tree (10,000 uploads × 4 × 250) as snapshot events, every record appended to
   a real sqlite journal and a snapshot written at the end, exactly as Fusion does — then
   ``fustor-fusion serve`` starts on that journal. Baseline: the same 10 M rows pushed over HTTP
   into a journal-off Fusion (the leader's re-snapshot, Fusion's side), measured in this run
   unless ``--no-big-baseline``. Budget: ≤ 20 s.

A sample of files is checked after every restart (the view came back, not just a count).
Usage: ``python benchmarks/fusion_journal.py [--uploads 1000] [--big-uploads 10000]
[--no-big-baseline] [--budget-scale F] [--smoke]``; exits 1 when a budget is missed (``budgets.py``).
"""

from __future__ import annotations

import argparse
import gc
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import IO, Any

import orjson
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from budgets import Budgets, add_arguments
from fusion_http import BATCH, Client, file_batches
from treegen import TreeShape, snapshot_event

INGEST_KEY = "bench-ingest"
QUERY_KEY = "bench-query"
PLUGINS = [
    "storage-memory",
    "merge-mtime",
    "merge-tombstone",
    "merge-suspect",
    "merge-blindspot",
    "journal-sqlite",
]
BUDGETS = {
    "ingest_rows_s": 200_000,
    "rss_ratio": 1.10,
    "restart_1m_s": 3.0,
    "restart_10m_s": 20.0,
    "snapshot_bytes_per_file": 60.0,
}
TAIL_ROWS = 200_000


# -- a Fusion process -----------------------------------------------------------------------------


def pump(stream: IO[str], lines: queue.Queue[str], log: IO[str]) -> None:
    for line in stream:
        log.write(line)
        lines.put(line)


class FusionProcess:
    """``fustor-fusion serve`` on a free port, with its log in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        journal: dict[str, Any],
        *,
        port: int = 0,
        settings: dict[str, Any] | None = None,
        plugins: list[str] = PLUGINS,
    ) -> None:
        """``port`` 0: any free one (read from the log); ``settings``: more fusion.yaml keys
        (``cluster: {...}``); ``plugins``: what ``FUSTOR_PLUGINS`` loads."""
        self.workdir = workdir
        self.port = port
        self.plugins = plugins
        self.config = workdir / "fusion.yaml"
        self.config.write_text(
            orjson.dumps(
                {
                    "session_timeout_s": 600,
                    "log_level": "INFO",
                    **(settings or {}),
                    "journal": journal,
                    "datastores": {
                        "demo": {
                            "api_keys": [
                                {"key": INGEST_KEY, "scopes": ["ingest"]},
                                {"key": QUERY_KEY, "scopes": ["query"]},
                            ]
                        }
                    },
                }
            ).decode()
        )
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.started = 0.0
        self.cpu_s = 0.0

    def start(self) -> FusionProcess:
        script = shutil.which("fustor-fusion", path=str(Path(sys.executable).parent)) or "fustor-fusion"
        env = {
            **os.environ,
            "FUSTOR_HOME": str(self.workdir / "home"),
            "FUSTOR_PLUGINS": ",".join(self.plugins),
        }
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [script, "serve", "--config", str(self.config), "--port", str(self.port)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stderr is not None
        log = open(self.workdir / "fusion.log", "a")  # noqa: SIM115 - closed with the process' stream
        threading.Thread(target=pump, args=(self.process.stderr, lines, log), daemon=True).start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    raise SystemExit(
                        f"fustor-fusion exited early; see {self.workdir / 'fusion.log'}"
                    ) from None
                continue
            match = re.search(r"msg=\"fusion listening\" url=(\S+)", line)
            if match:
                self.url = match.group(1)
                return self
        raise SystemExit("fustor-fusion serve did not report its URL within 60 s")

    def wait_ready(self, timeout: float = 120) -> float:
        """Seconds from the process start until /readyz answered 200."""
        client = Client(self.url, "")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.call("GET", "/readyz")[0] == 200:
                    return time.perf_counter() - self.started
            except OSError:
                client = Client(self.url, "")
            time.sleep(0.01)
        raise SystemExit(f"Fusion not ready within {timeout} s")

    def rss_mb(self) -> float:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self, sig: int = signal.SIGTERM) -> float:
        """Stop the process; seconds it took (a SIGTERM'd Fusion writes a snapshot first)."""
        assert self.process is not None
        started = time.perf_counter()
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.perf_counter() - started

    def stats(self) -> dict[str, Any]:
        return Client(self.url, QUERY_KEY).json("GET", "/api/v1/views/demo/stats")  # type: ignore[no-any-return]


# -- ingest -----------------------------------------------------------------------------------------


def bodies(batches: Iterator[list[tuple[str, int, float]]], source: str = "snapshot") -> Iterator[bytes]:
    index = int(time.time() * 1000)
    for seq, chunk in enumerate(batches, start=1):
        yield orjson.dumps(
            {
                "seq": seq,
                "events": [
                    {
                        "message_source": source,
                        "event_type": "insert" if source == "snapshot" else "update",
                        "index": index,
                        "rows": [{"path": p, "is_dir": False, "size": s, "mtime": m} for p, s, m in chunk],
                    }
                ],
            }
        )


def push(fusion: FusionProcess, payloads: Iterator[bytes] | list[bytes]) -> tuple[float, int, float]:
    """Send every body on one session, each after the previous answer: (seconds, rows, peak RSS MB).
    Fusion's CPU time (all threads) during the push is kept in ``fusion.cpu_s``."""
    client = Client(fusion.url, INGEST_KEY)
    sid = client.json("POST", "/api/v1/ingest/sessions", orjson.dumps({"agent_id": "bench"}))["session_id"]
    path = f"/api/v1/ingest/sessions/{sid}/events"
    assert fusion.process is not None
    server = psutil.Process(fusion.process.pid)
    peak = 0.0
    rows = 0
    cpu_before = sum(server.cpu_times()[:2])
    started = time.perf_counter()
    for n, body in enumerate(payloads):
        answer = client.json("POST", path, body)
        rows += answer["accepted"] + answer["unchanged"]
        if n % 50 == 0:
            peak = max(peak, server.memory_info().rss / 2**20)
    elapsed = time.perf_counter() - started
    fusion.cpu_s = sum(server.cpu_times()[:2]) - cpu_before
    return elapsed, rows, max(peak, server.memory_info().rss / 2**20)


def wait_settled(fusion: FusionProcess, timeout: float = 120) -> None:
    """Until no record is pending and no snapshot is being written."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        journal = fusion.stats()["journal"]
        if not journal["snapshot_running"] and not journal["pending_records"]:
            return
        time.sleep(0.05)
    raise SystemExit("the journal did not settle")


def high_entropy_snapshot(files: int) -> float:
    """Bytes per file of a snapshot of a tree whose sizes and mtimes are random (sub-second mtimes,
    realtime confirmation stamps on a third of the files): the worst case for compression, beside
    the synthetic tree whose regular values compress very well."""
    import random

    from fustor_core.event_model import Row
    from fustor_storage_memory import MemoryTreeStore

    rng = random.Random(5)
    store = MemoryTreeStore()
    per_dir = 250
    for d in range(files // per_dir):
        base = f"/upload/{d % 97:02x}/{rng.getrandbits(64):016x}/sub_{d % 4}"
        rows = [
            Row.model_construct(
                path=f"{base}/sample_{rng.randrange(10**6)}_L00{i % 4}_R{i % 2}.fastq.gz",
                is_dir=False,
                size=rng.randrange(10**10),
                mtime=1.7e9 + rng.random() * 1e7,
                parent_path=None,
                parent_mtime=None,
                audit_skipped=False,
                local_write=False,
            )
            for i in range(per_dir)
        ]
        store.upsert(rows, range(len(rows)), 1.7e9 + rng.random() * 1e7 if d % 3 == 0 else None)
    total = sum(map(len, store.export_snapshot()))
    return total / store.totals().files


def check_sample(fusion: FusionProcess, shape: TreeShape, picks: int = 20) -> None:
    """A few upload directories answer with every file: the view came back, not only its counts."""
    client = Client(fusion.url, QUERY_KEY)
    ids = shape.upload_ids()
    step = max(1, len(ids) // picks)
    for upload_id in ids[::step]:
        node = client.json("GET", f"/api/v1/views/demo/tree?path={shape.upload_dir(upload_id)}&depth=0")
        assert node["files"] == shape.subdirs * shape.files_per_dir, node


# -- the 10 M view, generated through the engine ------------------------------------------------------


def build_big_journal(shape: TreeShape, journal_dir: Path) -> dict[str, float]:
    """A journal + snapshot of ``shape`` made the way Fusion makes them (see the module docstring)."""
    from fustor_core.journal import NewRecord
    from fustor_core.plugins import get_plugin_manager
    from fustor_fusion.journaling import inputs
    from fustor_fusion.journaling.recording import JournaledView
    from fustor_fusion.journaling.view_snapshot import dump_view
    from fustor_journal_sqlite import SqliteJournal

    journal = SqliteJournal(journal_dir / "demo")
    journal.open()
    view = JournaledView("demo", get_plugin_manager(only=PLUGINS), now=time.time)
    pending: list[NewRecord] = []

    def record(kind: str, at: float, encode: Any, weight: int, outcome: Any) -> None:
        payload = encode() if outcome is None else inputs.with_outcome(encode(), outcome.encode())
        pending.append(NewRecord(at, kind, inputs.pack(payload)))

    view.recorder = record
    started = time.perf_counter()
    rows = shape.file_rows()
    while chunk := list(islice(rows, BATCH)):
        view.apply_event(snapshot_event(chunk))
        if len(pending) >= 20:
            journal.append(pending)
            pending.clear()
    last_seq = journal.append(pending)
    built = time.perf_counter() - started
    assert view.store.totals().files == shape.files
    started = time.perf_counter()
    info = journal.write_snapshot(last_seq, dump_view(view))
    dumped = time.perf_counter() - started
    journal.close()
    del view
    gc.collect()
    return {"build_s": built, "dump_s": dumped, "snapshot_bytes": info.size}


# -- main -----------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--uploads", type=int, default=1000, help="{uuid} directories of 1,000 files")
    parser.add_argument("--big-uploads", type=int, default=10_000, help="uploads of the big view (0: skip)")
    parser.add_argument(
        "--big-baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="push the big tree over HTTP into a journal-off Fusion as the baseline (default on)",
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="ingest runs per mode, alternating off/on (the best counts)"
    )
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    tail_rows = TAIL_ROWS
    if args.smoke:
        args.uploads, args.big_uploads, args.rounds, tail_rows = 1, 2, 1, 1000
    shape = TreeShape(uploads=args.uploads)
    work = Path(tempfile.mkdtemp(prefix="fustor-bench-journal-"))
    try:
        results = run(shape, work, args.big_uploads, args.big_baseline, tail_rows, args.rounds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(results, shape, args.big_uploads, tail_rows, budgets)
    return budgets.verdict()


def run(
    shape: TreeShape, work: Path, big_uploads: int, big_baseline: bool, tail_rows: int, rounds: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    print(
        f"tree: {shape.files:,} files, batches of {BATCH} rows, one client waiting for each answer",
        flush=True,
    )
    payloads = list(bodies(iter(file_batches(shape))))

    # 1. ingest, journal off then on, alternating for ``rounds`` rounds (the best of each counts:
    #    the load of a shared machine changes between runs, and the best run is the least disturbed)
    fusion: FusionProcess | None = None
    for round_ in range(rounds):
        journal_dir = work / f"journal-{round_}"
        modes = (("off", {"driver": "none"}), ("on", {"driver": "sqlite", "path": str(journal_dir)}))
        for mode, journal in modes:
            if fusion is not None:
                fusion.stop()
            (work / f"fusion-{mode}-{round_}").mkdir()
            fusion = FusionProcess(work / f"fusion-{mode}-{round_}", journal).start()
            fusion.wait_ready()
            seconds, rows, peak = push(fusion, payloads)
            assert rows == shape.files, rows
            if mode == "on":  # a snapshot may have started with the last batch: measure after it
                wait_settled(fusion)
            rate = rows / seconds
            print(
                f"  round {round_ + 1}, journal {mode}: {rate:,.0f} rows/s, RSS {fusion.rss_mb():.0f} MB",
                flush=True,
            )
            if rate > results.get(f"ingest_{mode}_rows_s", 0):
                results[f"ingest_{mode}_s"] = seconds
                results[f"ingest_{mode}_rows_s"] = rate
                results[f"cpu_{mode}_us_per_row"] = fusion.cpu_s / rows * 1e6
            results[f"rss_{mode}_mb"] = fusion.rss_mb()
            results[f"peak_rss_{mode}_mb"] = peak
    results["journal_dir"] = journal_dir
    assert fusion is not None
    stats = fusion.stats()["journal"]
    results["snapshots_during_ingest"] = stats["snapshots_written"]
    results["ingest_pause_s"] = (stats["last_snapshot"] or {}).get("ingest_pause_s")
    results["appends"] = stats["appends"]

    # 2. restart of the 1 M view: clean (SIGTERM writes a snapshot), then a crash with a tail
    results["stop_s"] = fusion.stop(signal.SIGTERM)
    fusion.start()
    results["restart_1m_s"] = fusion.wait_ready()
    results["restart_1m_report"] = fusion.stats()["journal"]
    check_sample(fusion, shape)
    newest = sorted((results["journal_dir"] / "demo" / "snapshots").glob("*.snap"))[-1]
    results["snapshot_bytes"] = newest.stat().st_size
    results["snapshot_bytes_per_file"] = newest.stat().st_size / shape.files
    results["rss_restarted_mb"] = fusion.rss_mb()
    results["entropy_bytes_per_file"] = high_entropy_snapshot(shape.files)
    tail = TreeShape(uploads=tail_rows // (shape.subdirs * shape.files_per_dir), base_mtime=1_600_000_000.0)
    push(fusion, list(bodies(iter(file_batches(tail)), source="realtime")))
    fusion.stop(signal.SIGKILL)
    fusion.start()
    results["restart_crash_s"] = fusion.wait_ready()
    results["restart_crash_report"] = fusion.stats()["journal"]
    check_sample(fusion, shape)
    fusion.stop()
    del payloads
    gc.collect()

    # 3. the 10 M view
    if big_uploads:
        big = TreeShape(uploads=big_uploads)
        big_dir = work / "big"
        big_dir.mkdir()
        print(f"generating the {big.files:,}-file view through the engine ...", flush=True)
        results["big"] = build_big_journal(big, big_dir / "journal")
        fusion = FusionProcess(big_dir, {"driver": "sqlite", "path": str(big_dir / "journal")}).start()
        results["restart_10m_s"] = fusion.wait_ready(timeout=300)
        results["restart_10m_report"] = fusion.stats()["journal"]
        results["rss_10m_mb"] = fusion.rss_mb()
        check_sample(fusion, big)
        fusion.stop(signal.SIGKILL)
        shutil.rmtree(big_dir / "journal", ignore_errors=True)
        if big_baseline:
            print("baseline: the same rows over HTTP into a journal-off Fusion ...", flush=True)
            (big_dir / "off").mkdir()
            fusion = FusionProcess(big_dir / "off", {"driver": "none"}).start()
            fusion.wait_ready()
            seconds, rows, _ = push(fusion, bodies(iter(file_batches(big))))
            assert rows == big.files
            results["resnapshot_10m_s"] = seconds
            fusion.stop(signal.SIGKILL)
    return results


def report(
    results: dict[str, Any], shape: TreeShape, big_uploads: int, tail_rows: int, budgets: Budgets
) -> None:
    print(f"\nload average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'figure':<46}{'measured':>17}{'budget':>11}   baseline (same run)")

    def line(name: str, value: str, budget: str = "", baseline: str = "") -> None:
        print(f"{name:<46}{value:>17}{budget:>11}   {baseline}")

    m = f"{shape.files / 1e6:g} M"
    rate = results["ingest_on_rows_s"]
    off_rate = f"journal off: {results['ingest_off_rows_s']:,.0f} rows/s"
    rss_ratio = results["rss_on_mb"] / results["rss_off_mb"]
    off_rss = f"journal off: {results['rss_off_mb']:.0f} MB"
    line(
        "HTTP ingest, journal on (best run)",
        f"{rate:,.0f} rows/s",
        f"≥ {BUDGETS['ingest_rows_s']:,}",
        off_rate,
    )
    line(
        "  Fusion CPU per row (all its threads)",
        f"{results['cpu_on_us_per_row']:.2f} µs",
        "",
        f"journal off: {results['cpu_off_us_per_row']:.2f} µs",
    )
    line(
        f"Fusion RSS after the {m} ingest, journal on",
        f"{results['rss_on_mb']:.0f} MB ({rss_ratio:.0%})",
        f"≤ {BUDGETS['rss_ratio']:.0%}",
        off_rss,
    )
    line(
        "  peak RSS during the ingest",
        f"{results['peak_rss_on_mb']:.0f} MB",
        "",
        f"journal off: {results['peak_rss_off_mb']:.0f} MB",
    )
    line(
        "  snapshots written during the ingest",
        str(results["snapshots_during_ingest"]),
        "",
        f"ingest pause of the last one: {results['ingest_pause_s']} s",
    )
    line(f"  appends (group commits) for {shape.files // BATCH:,} batches", f"{results['appends']:,}")
    r1 = results["restart_1m_report"]
    resnapshot = f"leader re-snapshot (Fusion side): {results['ingest_off_s']:.2f} s"
    line(
        f"restart of the {m} view to /readyz 200",
        f"{results['restart_1m_s']:.2f} s",
        f"≤ {BUDGETS['restart_1m_s']:.0f} s",
        resnapshot,
    )
    line(
        "  snapshot load / replay (Fusion's report)",
        f"{r1['snapshot_load_s']:.2f} / {r1['replay_s']:.2f} s",
        "",
        f"{r1['replayed_records']} records replayed",
    )
    line(
        "  stop with the final snapshot (SIGTERM)",
        f"{results['stop_s']:.2f} s",
        "",
        f"= ingest pause for {m} files",
    )
    line(
        f"snapshot of the {m} view on disk",
        f"{results['snapshot_bytes_per_file']:.1f} B/file",
        f"≤ {BUDGETS['snapshot_bytes_per_file']:.0f}",
        f"{results['snapshot_bytes'] / 2**20:.1f} MB",
    )
    line(
        "  a high-entropy tree of as many files",
        f"{results['entropy_bytes_per_file']:.1f} B/file",
        f"≤ {BUDGETS['snapshot_bytes_per_file']:.0f}",
        "random sizes, sub-second mtimes, long names",
    )
    rc = results["restart_crash_report"]
    line(
        f"restart after SIGKILL, {tail_rows:,}-row tail",
        f"{results['restart_crash_s']:.2f} s",
        "",
        f"load {rc['snapshot_load_s']:.2f} s + replay {rc['replay_s']:.2f} s"
        f" ({rc['replayed_records']} records, {tail_rows / max(rc['replay_s'], 1e-9):,.0f} rows/s)",
    )
    line(
        "Fusion RSS after the restart",
        f"{results['rss_restarted_mb']:.0f} MB",
        "",
        f"after ingest: {results['rss_on_mb']:.0f} MB",
    )
    big_files = big_uploads * shape.subdirs * shape.files_per_dir
    if "restart_10m_s" in results:
        r10 = results["restart_10m_report"]
        big_resnapshot = (
            f"leader re-snapshot (Fusion side): {results['resnapshot_10m_s']:.1f} s"
            if "resnapshot_10m_s" in results
            else "(baseline skipped)"
        )
        line(
            f"restart of the {big_files / 1e6:g} M view to /readyz 200",
            f"{results['restart_10m_s']:.2f} s",
            f"≤ {BUDGETS['restart_10m_s']:.0f} s",
            big_resnapshot,
        )
        line(
            "  snapshot load / replay (Fusion's report)",
            f"{r10['snapshot_load_s']:.2f} / {r10['replay_s']:.2f} s",
        )
        line(
            "  its snapshot on disk",
            f"{results['big']['snapshot_bytes'] / big_files:.1f} B/file",
            f"≤ {BUDGETS['snapshot_bytes_per_file']:.0f}",
            f"dumped in {results['big']['dump_s']:.1f} s (= its ingest pause)",
        )
        line("  Fusion RSS with it", f"{results['rss_10m_mb']:.0f} MB")
    print()

    budgets.at_least("HTTP ingest with the journal", rate, BUDGETS["ingest_rows_s"], "rows/s", off_rate)
    budgets.at_most("Fusion RSS with the journal / without", rss_ratio, BUDGETS["rss_ratio"], "x", off_rss)
    budgets.at_most(
        f"restart of the {m} view", results["restart_1m_s"], BUDGETS["restart_1m_s"], "s", resnapshot
    )
    budgets.at_most(
        f"snapshot of the {m} view",
        results["snapshot_bytes_per_file"],
        BUDGETS["snapshot_bytes_per_file"],
        "bytes/file",
    )
    budgets.at_most(
        "snapshot of a high-entropy tree",
        results["entropy_bytes_per_file"],
        BUDGETS["snapshot_bytes_per_file"],
        "bytes/file",
    )
    if "restart_10m_s" in results:
        budgets.at_most(
            f"restart of the {big_files / 1e6:g} M view",
            results["restart_10m_s"],
            BUDGETS["restart_10m_s"],
            "s",
            big_resnapshot,
        )
        budgets.at_most(
            f"snapshot of the {big_files / 1e6:g} M view",
            results["big"]["snapshot_bytes"] / big_files,
            BUDGETS["snapshot_bytes_per_file"],
            "bytes/file",
        )
    else:
        print("the big view was skipped (--big-uploads 0): its budgets are not checked")


if __name__ == "__main__":
    sys.exit(main())

"""The command-line client (issue 13): "where did upload X land, how big is it?" with ``fustor``
against GNU find/ls/du on the same on-disk tree, in the same run.

The tree is the synthetic upload area of ``treegen`` (1,000 ``{uuid}`` × 4 ``sub_k`` × 250 empty
files; ``--uploads`` scales it) built once under ``--root`` (reused when present, shared with
``agent_sync.py``). A real ``fustor-fusion serve`` is fed the tree's own ``lstat``s through the
ingest API (not timed), then each question is timed both ways, as a person runs it — a new
process per command, interpreter start-up included:

1. ``fustor find /upload -name UUID`` then ``fustor ls -l`` of the directory it printed, against
   ``find ROOT/upload -name UUID`` then ``ls -l`` of it (GNU find walks the whole tree; the
   kernel's caches are warm, as on a local disk — on NFS it would be far slower);
2. ``fustor du -s /upload`` (one request: the directory's O(1) totals) against
   ``du -s --apparent-size ROOT/upload``.

Every pair is run ``--repeat`` times and the fastest of each side counts; the speed-up (GNU time
÷ fustor time) is printed, and so is the time of Fusion's search request alone (from this
process, on a kept-alive connection). A ``fustor`` command costs about 0.4 s before its first
request (the interpreter and its imports: ``fustor``'s own, httpx), so on a warm local disk
find+ls is at par with GNU find at a million files and ahead beyond that (and on NFS, where find
pays a round trip per directory). Budgets: Fusion's search ≤ 100 ms and ≥ 10× faster than GNU
find; ``fustor find`` + ``ls -l`` ≤ 2 s end to end; ``du -s`` ≥ 2× faster than GNU du and
≤ 1.5 s. ``fustor find`` must print the path GNU find prints.

Usage: ``python benchmarks/client_cli.py [--root /tmp/fustor-bench/tree1m] [--uploads N]
[--repeat N] [--budget-scale F] [--smoke]``; exits 1 when a budget is missed (see ``budgets.py``).
``--smoke`` uses one ``{uuid}`` (1,000 files) in a temporary directory.
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
import yaml

from fustor_core.testing import free_port

sys.path.insert(0, str(Path(__file__).parent))
from agent_sync import BIN, INGEST_KEY, QUERY_KEY, build_tree, start, wait
from budgets import Budgets, add_arguments
from treegen import TreeShape, smoke_tree_root

SEARCH_MS_BUDGET = 100.0
SEARCH_SPEEDUP_BUDGET = 10.0
FIND_LS_SECONDS_BUDGET = 2.0
DU_SPEEDUP_BUDGET = 2.0
DU_SECONDS_BUDGET = 1.5
BATCH = 5000


def feed(fusion_url: str, root: Path) -> int:
    """Send every file and directory under ``root`` (its ``lstat``) as the leader's snapshot."""
    http = httpx.Client(base_url=fusion_url, headers={"X-API-Key": INGEST_KEY}, timeout=120)
    sid = http.post("/api/v1/ingest/sessions", json={"agent_id": "bench", "source_uri": "fs:///"}).json()[
        "session_id"
    ]
    rows: list[dict[str, Any]] = []
    seq = sent = 0

    def flush() -> None:
        nonlocal seq, sent
        if not rows:
            return
        seq += 1
        event = {"message_source": "snapshot", "event_type": "insert", "index": seq, "rows": rows}
        answer = http.post(f"/api/v1/ingest/sessions/{sid}/events", json={"events": [event], "seq": seq})
        answer.raise_for_status()
        sent += len(rows)
        rows.clear()

    prefix = len(str(root))
    for here, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(here, name)
            st = os.lstat(full)
            rows.append(
                {"path": full[prefix:], "is_dir": name in dirs, "size": st.st_size, "mtime": st.st_mtime}
            )
            if len(rows) >= BATCH:
                flush()
    flush()
    http.close()
    return sent


def timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, check=True).stdout
    return time.perf_counter() - started, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--root", help="where the on-disk tree lives (default /tmp/fustor-bench/tree1m)")
    parser.add_argument("--uploads", type=int, default=1000, help="uuid directories (x1000 files)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each command; the fastest counts")
    add_arguments(parser)
    args = parser.parse_args()
    budgets = Budgets.from_args(args)
    if args.smoke:
        args.uploads, args.repeat = 1, 1
    with smoke_tree_root(args, prefix="fustor-client-smoke-"):
        return run(args, budgets)


def run(args: argparse.Namespace, budgets: Budgets) -> int:
    shape = TreeShape(uploads=args.uploads)
    root = Path(args.root or "/tmp/fustor-bench/tree1m")
    build_tree(root, shape)
    upload_id = shape.upload_ids()[len(shape.upload_ids()) // 2]
    work = Path(tempfile.mkdtemp(prefix="fustor-client-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    (work / "fusion.yaml").write_text(
        yaml.safe_dump(
            {
                "journal": {"driver": "none"},
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
    fusion = start(
        [str(BIN / "fustor-fusion"), "serve", "--config", str(work / "fusion.yaml"), "--port", str(port)],
        work / "fusion.log",
    )
    try:
        wait(lambda: httpx.get(f"{url}/readyz").status_code == 200, 30, "Fusion")
        started = time.perf_counter()
        sent = feed(url, root)
        print(f"fed {sent:,} nodes of {root} in {time.perf_counter() - started:.1f} s (not timed below)")
        env = {**os.environ, "FUSTOR_URL": url, "FUSTOR_API_KEY": QUERY_KEY, "FUSTOR_DATASTORE": "bench"}
        fustor = str(BIN / "fustor")
        ours_find = ours_du = gnu_find = gnu_du = search_s = float("inf")
        query = httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=120)
        for _ in range(args.repeat):
            started = time.perf_counter()
            query.get("/api/v1/views/bench/search", params={"path": "/upload", "pattern": upload_id})
            search_s = min(search_s, time.perf_counter() - started)
            t_find, found = timed([fustor, "find", "/upload", "-name", upload_id], env)
            t_ls, _ = timed([fustor, "ls", "-l", found.strip()], env)
            ours_find = min(ours_find, t_find + t_ls)
            g_find, g_found = timed(["find", f"{root}/upload", "-name", upload_id])
            g_ls, _ = timed(["ls", "-l", g_found.strip()])
            gnu_find = min(gnu_find, g_find + g_ls)
            t_du, du_out = timed([fustor, "du", "-sb", "/upload"], env)
            ours_du = min(ours_du, t_du)
            g_du, _ = timed(["du", "-s", "--apparent-size", f"{root}/upload"])
            gnu_du = min(gnu_du, g_du)
        query.close()
        assert found.strip() == g_found.strip()[len(str(root)) :], (found, g_found)
        print(
            f"of which Fusion's search request (HTTP, keep-alive): {search_s * 1000:.1f} ms; the rest is"
            " two interpreter start-ups (imports) and the ls request"
        )
        print(
            f"fustor find -name UUID + ls -l: {ours_find:.3f} s   GNU find + ls -l: {gnu_find:.3f} s   "
            f"speed-up {gnu_find / ours_find:.1f}x   ({shape.files:,} files)"
        )
        print(
            f"fustor du -s /upload:           {ours_du:.3f} s   GNU du -s:        {gnu_du:.3f} s   "
            f"speed-up {gnu_du / ours_du:.1f}x   (fustor: {du_out.split()[0]} bytes of files)"
        )
        gnu = f"GNU find + ls -l {gnu_find:.3f} s"
        budgets.at_most("Fusion's search request", search_s * 1000, SEARCH_MS_BUDGET, "ms", gnu)
        budgets.at_least(
            "search speed-up over GNU find", gnu_find / search_s, SEARCH_SPEEDUP_BUDGET, "x", gnu
        )
        budgets.at_most("fustor find -name UUID + ls -l", ours_find, FIND_LS_SECONDS_BUDGET, "s", gnu)
        budgets.at_least(
            "du -s speed-up over GNU", gnu_du / ours_du, DU_SPEEDUP_BUDGET, "x", f"GNU du -s {gnu_du:.3f} s"
        )
        budgets.at_most("fustor du -s", ours_du, DU_SECONDS_BUDGET, "s", f"GNU du -s {gnu_du:.3f} s")
    finally:
        fusion.terminate()
        fusion.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

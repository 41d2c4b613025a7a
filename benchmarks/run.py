"""Run every benchmark in turn (``./dev bench`` / ``nox -s bench``); each prints its figures
beside the baseline measured in the same run and exits 1 when it missed a budget. Every
benchmark runs even after one failed; the exit status is 1 when any failed (missed a budget or
crashed). ``--only NAME`` (repeatable) picks benchmarks; ``--budget-scale`` and ``--smoke`` are
passed to each (see ``budgets.py``), and so are extra arguments after ``--``."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from budgets import add_arguments

HERE = Path(__file__).parent
BENCHMARKS = {
    "engine": "engine_ingest.py",
    "store": "store_micro.py",
    "fusion-http": "fusion_http.py",
    "journal": "fusion_journal.py",
    "journal-append": "journal_append.py",
    "fusion-small-queries": "fusion_small_queries.py",
    "agent": "agent_sync.py",
    "agent-resume": "agent_resume.py",
    "registry": "registry_keys.py",
    "soak": "soak.py",
    "lists": "lists_memory.py",
    "fresh-tree": "fresh_tree.py",
    "client-cli": "client_cli.py",
    "completion": "completion_ingest.py",
    "fresh-answer": "fresh_answer.py",
    "change-feed": "change_feed.py",
    "cluster-ingest": "cluster_ingest.py",
    "replica-lag": "replica_lag.py",
    "takeover": "takeover.py",
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", choices=sorted(BENCHMARKS), action="append")
    parser.add_argument("extra", nargs="*")
    add_arguments(parser)
    args = parser.parse_args()
    common = [f"--budget-scale={args.budget_scale}", *(["--smoke"] if args.smoke else [])]
    failed = []
    for name in args.only or list(BENCHMARKS):
        script = HERE / BENCHMARKS[name]
        if not script.exists():
            print(f"== {name}: {script.name} missing", flush=True)
            failed.append(name)
            continue
        print(f"== {name} ({script.name})", flush=True)
        started = time.perf_counter()
        code = subprocess.call([sys.executable, str(script), *common, *args.extra])
        print(f"== {name}: exit {code} after {time.perf_counter() - started:.0f} s\n", flush=True)
        if code:
            failed.append(name)
    if failed:
        print("budgets missed or errors in: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""``fresh=true`` on the NFS lab: how long a tree query waits for the leader's relisting.

Builds the bindfs lab (root, FUSE and bindfs needed), starts a registry, Fusion and the leader
agent on host a as real processes, and syncs one directory of ``--files`` files (1,000) with
hour-old mtimes. Then, ``--rounds`` times: host c (no agent) rewrites one file in place with a
new size, a plain tree query of the directory (depth 1: every file) is timed — the baseline: it
answers from the view as it stands, the old size — and then the same query with ``fresh=true``,
which waits until the leader re-listed the directory (every file stat'ed past the attribute
cache) and must show the new size. Prints p50/p90 of both and of the agent's own relisting
(``fresh.took_s``). Budgets: ``fresh=true`` p50 ≤ 300 ms, and every fresh answer showed host c's
write while the plain one before it did not.

Usage: ``python benchmarks/fresh_answer.py [--files N] [--rounds N] [--budget-scale F] [--smoke]``;
exits 1 when a budget is missed (see ``budgets.py``). ``--smoke``: 100 files, 5 rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
sys.path.insert(0, str(E2E))

from budgets import Budgets, add_arguments  # noqa: E402
from nfslab import NfsLab, lab_unavailable_reason  # noqa: E402
from stack import DATASTORE, LabRegistry, LabStack  # noqa: E402

DIRECTORY = "/runs/r1"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def make_directory(lab: NfsLab, files: int) -> None:
    run = lab.export / DIRECTORY.lstrip("/")
    run.mkdir(parents=True)
    hour_ago = time.time() - 3600
    for i in range(files):
        path = run / f"part{i:05d}.dat"
        path.write_bytes(b"x" * 10)
        os.utime(path, (hour_ago, hour_ago))
    for directory in (run, run.parent, lab.export):
        os.utime(directory, (hour_ago, hour_ago))


def tree(stack: LabStack, **params: Any) -> tuple[float, dict[str, Any]]:
    """(milliseconds, answer) of one tree query of the directory, every child listed."""
    started = time.perf_counter()
    answer = stack.http.get(
        f"{stack.fusion_url}/api/v1/views/{DATASTORE}/tree",
        params={"path": DIRECTORY, "depth": 1, "limit": 10_000, **params},
        headers={"X-API-Key": stack.registry.query_key},
        timeout=30,
    )
    elapsed = (time.perf_counter() - started) * 1000
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return elapsed, body


def size_of(body: dict[str, Any], name: str) -> int | None:
    for child in body.get("children") or ():
        if child["name"] == name:
            return int(child["size"])
    return None


def measure(stack: LabStack, lab: NfsLab, files: int, rounds: int) -> dict[str, Any]:
    plain_ms: list[float] = []
    fresh_ms: list[float] = []
    listing_ms: list[float] = []
    shown = 0
    blind = lab.host("c") / DIRECTORY.lstrip("/")
    for i in range(rounds):
        name = f"part{(i * 37) % files:05d}.dat"
        size = 1000 + i
        with open(blind / name, "r+b") as rewritten:  # in place: no directory mtime moves
            rewritten.write(b"y" * size)
        elapsed, plain = tree(stack)
        plain_ms.append(elapsed)
        elapsed, fresh = tree(stack, fresh="true", timeout=10)
        fresh_ms.append(elapsed)
        listing_ms.append(float(fresh["fresh"]["took_s"]) * 1000)
        if size_of(fresh, name) == size and size_of(plain, name) != size:
            shown += 1
    return {"plain": plain_ms, "fresh": fresh_ms, "listing": listing_ms, "shown": shown}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    add_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.files, args.rounds = min(args.files, 100), min(args.rounds, 5)
    reason = lab_unavailable_reason()
    if reason is not None:
        print(f"fresh_answer: cannot build the NFS lab: {reason}")
        return 1
    with tempfile.TemporaryDirectory(prefix="fustor-fresh-") as tmp:
        base = Path(tmp)
        registry = LabRegistry.start(base / "registry")
        try:
            with NfsLab(base / "lab") as lab:
                make_directory(lab, args.files)
                stack = LabStack(lab, registry, base / "services")
                try:
                    stack.start_fusion()
                    stack.start_agent("a")
                    stack.wait_leader("a")
                    stack.wait_snapshot("a")
                    stack.wait(lambda: stack.stats()["files"] == args.files, 60, "the directory in Fusion")
                    tree(stack, fresh="true", timeout=10)  # warm up: connections, the first task
                    result = measure(stack, lab, args.files, args.rounds)
                except BaseException:
                    print(stack.logs())
                    raise
                finally:
                    stack.close()
        finally:
            registry.service.stop()
    plain, fresh, listing = result["plain"], result["fresh"], result["listing"]
    print(
        f"directory of {args.files:,} files on the NFS lab, {args.rounds} rounds (host c rewrites one each)"
    )
    for label, samples in (
        ("plain tree query (baseline)", plain),
        ("fresh=true tree query", fresh),
        ("  of which the agent's relisting", listing),
    ):
        print(
            f"  {label:34} p50 {statistics.median(samples):7.1f} ms   p90 {percentile(samples, 0.9):7.1f} ms"
        )
    print(f"  fresh answers showing host c's write: {result['shown']} of {args.rounds} (plain answers: none)")
    budgets = Budgets.from_args(args)
    budgets.at_most(
        f"fresh=true p50 ({args.files:,}-file directory)",
        statistics.median(fresh),
        300,
        "ms",
        baseline=f"plain query p50 {statistics.median(plain):.1f} ms",
    )
    budgets.at_least(
        "fresh answers showing a write made without an agent",
        result["shown"],
        args.rounds,
        baseline="the plain query before each showed the old size",
    )
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

"""The long soak: 20,000 seeded operations under faults on the NFS lab (issue 9's proof).

Builds the bindfs lab (root, FUSE and bindfs needed), starts a registry, Fusion and agents on
hosts a and b as real processes, and runs :mod:`soak` (tests/e2e/soak.py) with the faults at
their full size (Fusion unreachable for 30 s). Prints what ran, the resurrection checks, the
differences between the view and the export after one audit and one deep audit, and the time
to converge. Exits 1 when anything was resurrected or any difference remains ("budget": zero).

    python benchmarks/soak.py [--operations N] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

E2E = Path(__file__).resolve().parent.parent / "tests" / "e2e"
sys.path.insert(0, str(E2E))

from budgets import Budgets, add_arguments  # noqa: E402
from nfslab import NfsLab, lab_unavailable_reason  # noqa: E402
from soak import Soak, SoakConfig, soak_settings  # noqa: E402
from stack import LabRegistry, LabStack  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=20261129)
    add_arguments(parser)
    args = parser.parse_args()
    if args.smoke:
        args.operations = min(args.operations, 300)
    reason = lab_unavailable_reason()
    if reason is not None:
        print(f"soak: cannot build the NFS lab: {reason}")
        return 1
    config = SoakConfig(
        seed=args.seed,
        operations=args.operations,
        max_dirs=300,
        fusion_pause_s=5.0 if args.smoke else 30.0,
        agent_freeze_s=5.0 if args.smoke else 8.0,
        overflow_burst=400 if args.smoke else 1000,
        converge_timeout_s=300.0,
    )
    fusion_settings, agent_settings = soak_settings()
    with tempfile.TemporaryDirectory(prefix="fustor-soak-") as tmp:
        base = Path(tmp)
        registry = LabRegistry.start(base / "registry")
        try:
            with NfsLab(base / "lab", faulty=("a",)) as lab:
                stack = LabStack(
                    lab,
                    registry,
                    base / "services",
                    fusion_settings=fusion_settings,
                    agent_settings=agent_settings,
                )
                try:
                    stack.start_fusion()
                    stack.start_agent("a")
                    stack.wait_leader("a")
                    stack.wait_snapshot("a")
                    stack.start_agent("b")
                    started = time.monotonic()
                    report = Soak(stack, lab, config).run()
                    elapsed = time.monotonic() - started
                except BaseException:
                    print(stack.logs())
                    raise
                finally:
                    stack.close()
        finally:
            registry.service.stop()
    for line in report.lines():
        print(line)
    print(f"soak: {elapsed:.0f} s in all")
    budgets = Budgets.from_args(args)
    budgets.at_most("files resurrected while running", len(report.resurrected), 0, baseline="goal: none")
    differences = report.differences
    for name in ("missing", "extra", "size", "mtime"):
        budgets.at_most(f"{name} after one audit and one deep audit", len(getattr(differences, name)), 0)
    converged = report.converge_s if report.converge_s is not None else float("inf")
    budgets.at_most("time to converge", converged, config.converge_timeout_s, "s")
    return budgets.verdict()


if __name__ == "__main__":
    sys.exit(main())

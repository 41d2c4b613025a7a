"""Budgets: how every benchmark checks its figures and turns a missed budget into its exit status.

A benchmark measures, prints each figure beside its baseline (measured in the same run), and
records each budgeted figure here. At the end :meth:`Budgets.verdict` prints every missed budget
with its figure, its budget and its baseline, and returns the exit status: 0 when all held, 1
otherwise. ``benchmarks/run.py`` runs every script and fails when any did.

Two options every script accepts (:func:`add_arguments`):

* ``--budget-scale F`` multiplies every allowance by F: a ceiling becomes ``limit × F``, a floor
  ``limit ÷ F``. ``0`` makes every budget impossible (the tests use it to prove a miss fails the
  run); a large F turns budgets into no-ops for a smoke run on a loaded machine.
* ``--smoke``: a tiny configuration that runs every step of the script in seconds. Its figures
  mean nothing; it exists so the test suite can run each script end to end.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--budget-scale`` and ``--smoke`` to a benchmark's command line."""
    parser.add_argument(
        "--budget-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply every allowance by F (ceilings x F, floors / F); 0 = every budget impossible",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny configuration that runs every step in seconds (figures meaningless; for tests)",
    )


@dataclass(frozen=True)
class Check:
    """One budgeted figure as measured in this run."""

    name: str
    measured: float
    limit: float
    """The allowance after scaling."""
    unit: str
    at_most: bool
    """True for a ceiling (``measured ≤ limit``), False for a floor (``measured ≥ limit``)."""
    baseline: str
    met: bool

    def describe(self) -> str:
        sign = "≤" if self.at_most else "≥"
        unit = f" {self.unit}" if self.unit else ""
        text = f"{self.name}: {_number(self.measured)}{unit} (budget {sign} {_number(self.limit)}{unit}"
        return text + (f"; baseline: {self.baseline})" if self.baseline else ")")


class Budgets:
    """The budgets of one benchmark run."""

    def __init__(self, scale: float = 1.0) -> None:
        if scale < 0 or math.isnan(scale):
            raise ValueError(f"--budget-scale must be >= 0, got {scale}")
        self.scale = scale
        self.checks: list[Check] = []

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Budgets:
        return cls(args.budget_scale)

    def at_most(self, name: str, measured: float, limit: float, unit: str = "", baseline: str = "") -> bool:
        """A ceiling: ``measured`` must not exceed ``limit`` (scaled). Returns whether it held."""
        allowed = limit * self.scale if self.scale else -math.inf
        return self._record(name, measured, allowed, unit, True, baseline)

    def at_least(self, name: str, measured: float, limit: float, unit: str = "", baseline: str = "") -> bool:
        """A floor: ``measured`` must reach ``limit`` (scaled). Returns whether it held."""
        allowed = limit / self.scale if self.scale else math.inf
        return self._record(name, measured, allowed, unit, False, baseline)

    def _record(
        self, name: str, measured: float, limit: float, unit: str, at_most: bool, baseline: str
    ) -> bool:
        met = measured <= limit if at_most else measured >= limit
        self.checks.append(Check(name, measured, limit, unit, at_most, baseline, met))
        return met

    @property
    def missed(self) -> list[Check]:
        return [check for check in self.checks if not check.met]

    def verdict(self) -> int:
        """Print the outcome and return the exit status (0: every budget held, 1: one was missed)."""
        scaled = f" (budgets scaled by {self.scale:g})" if self.scale != 1 else ""
        missed = self.missed
        if not self.checks:
            print("no budget was checked: nothing measured")
            return 1
        if not missed:
            print(f"budgets: all {len(self.checks)} met{scaled}")
            return 0
        print(f"budgets: {len(missed)} of {len(self.checks)} MISSED{scaled}")
        for check in missed:
            print(f"  BUDGET MISSED {check.describe()}")
        return 1


def _number(value: float) -> str:
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"

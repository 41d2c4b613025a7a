"""Every benchmark fails its run when it misses a budget, and ``run.py`` passes the failure on.

The budget check itself (``benchmarks/budgets.py``) is tested directly; then each script runs end
to end in its ``--smoke`` configuration (1,000 files instead of 1,000,000) twice at once: with
every allowance scaled far beyond noise (exit 0, every budget met) and with every budget made
impossible (``--budget-scale 0``: exit 1, each budget named with its figure and baseline). The
figures of a smoke run mean nothing; what is tested is that a missed budget fails the run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
sys.path.insert(0, str(Path(__file__).resolve().parent / "e2e"))
from budgets import Budgets
from nfslab import lab_unavailable_reason

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
SCRIPTS = [
    "engine_ingest.py",
    "store_micro.py",
    "fusion_http.py",
    "fusion_journal.py",
    "fusion_small_queries.py",
    "agent_sync.py",
    "agent_resume.py",
    "registry_keys.py",
    "lists_memory.py",
    "fresh_tree.py",
    "client_cli.py",
    "completion_ingest.py",
    "fresh_answer.py",
    "change_feed.py",
    "journal_append.py",
    "cluster_ingest.py",
    "replica_lag.py",
    "takeover.py",
]
"""Every script of run.py but soak.py, which is run by tests/e2e/test_soak.py."""
NEEDS_LAB = {"fresh_answer.py"}
"""Scripts that build the NFS lab (root, FUSE, bindfs): skipped where it cannot run, except in CI."""
NEEDS_POSTGRES = {"journal_append.py"}
"""Scripts that measure against the PostgreSQL of ``FUSTOR_TEST_POSTGRES_URL``: skipped without it,
except in CI."""


def test_a_missed_ceiling_or_floor_fails_the_run_and_names_figure_budget_and_baseline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    budgets = Budgets()
    assert budgets.at_most("tree p50", 3.5, 4, "ms", "earlier implementation 7.7 ms")
    assert not budgets.at_least("HTTP ingest", 70_000, 80_000, "rows/s", "in-process engine 900,000 rows/s")
    assert not budgets.at_most("Fusion RSS", 400, 350, "MB")
    assert budgets.verdict() == 1
    out = capsys.readouterr().out
    assert "budgets: 2 of 3 MISSED" in out
    assert (
        "BUDGET MISSED HTTP ingest: 70,000 rows/s (budget ≥ 80,000 rows/s; "
        "baseline: in-process engine 900,000 rows/s)" in out
    )
    assert "BUDGET MISSED Fusion RSS: 400 MB (budget ≤ 350 MB)" in out
    assert "tree p50" not in out


def test_budgets_that_all_hold_pass_the_run(capsys: pytest.CaptureFixture[str]) -> None:
    budgets = Budgets()
    budgets.at_most("p99", 8, 8, "ms")
    budgets.at_least("rate", 80_000, 80_000, "rows/s")
    assert budgets.verdict() == 0
    assert "budgets: all 2 met" in capsys.readouterr().out


def test_a_run_that_checked_no_budget_fails() -> None:
    assert Budgets().verdict() == 1


def test_the_scale_widens_allowances_and_zero_makes_every_budget_impossible() -> None:
    loose = Budgets(2)
    assert loose.at_most("ceiling", 7.9, 4)
    assert loose.at_least("floor", 40_001, 80_000)
    impossible = Budgets(0)
    assert not impossible.at_most("ceiling", -1.0, 4)  # even a figure below zero
    assert not impossible.at_least("floor", 1e300, 1)
    with pytest.raises(ValueError):
        Budgets(-1)


def require_lab() -> None:
    reason = lab_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the NFS lab must run in CI, but {reason}")
        pytest.skip(f"NFS lab unavailable: {reason}")


def require_postgres() -> None:
    if not os.environ.get("FUSTOR_TEST_POSTGRES_URL"):
        if os.environ.get("CI"):
            pytest.fail("CI is set but FUSTOR_TEST_POSTGRES_URL is not (see .ci/start-postgres.sh)")
        pytest.skip("FUSTOR_TEST_POSTGRES_URL is not set (start PostgreSQL with .ci/start-postgres.sh)")


def start(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, *argv], cwd=BENCHMARKS, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=240)
    return process.returncode, out


@pytest.mark.parametrize("script", SCRIPTS)
def test_each_benchmark_exits_0_when_its_budgets_hold_and_1_when_any_is_missed(script: str) -> None:
    if script in NEEDS_LAB:
        require_lab()
    if script in NEEDS_POSTGRES:
        require_postgres()
    loose = start(script, "--smoke", "--budget-scale", "1e6")
    impossible = start(script, "--smoke", "--budget-scale", "0")
    loose_code, loose_out = finish(loose)
    impossible_code, impossible_out = finish(impossible)
    assert loose_code == 0, loose_out
    met = re.search(r"budgets: all (\d+) met", loose_out)
    assert met is not None, loose_out
    checked = int(met.group(1))
    assert impossible_code == 1, impossible_out
    assert f"budgets: {checked} of {checked} MISSED" in impossible_out, impossible_out
    missed = [line for line in impossible_out.splitlines() if "BUDGET MISSED" in line]
    assert len(missed) == checked
    assert all("(budget " in line for line in missed), missed


def test_run_py_runs_every_benchmark_even_after_a_failure_and_fails_if_any_did() -> None:
    failing = start("run.py", "--only", "engine", "--only", "store", "--smoke", "--budget-scale", "0")
    passing = start("run.py", "--only", "engine", "--smoke", "--budget-scale", "1e6")
    code, out = finish(failing)
    assert code == 1, out
    assert "== engine: exit 1" in out and "== store: exit 1" in out
    assert "budgets missed or errors in: engine, store" in out
    code, out = finish(passing)
    assert code == 0, out
    assert "== engine: exit 0" in out

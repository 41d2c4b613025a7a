"""The soak, short: ~2,000 seeded operations under faults must leave the view equal to the export.

See :mod:`soak` for what runs; ``benchmarks/soak.py`` is the long version (20,000 operations).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from nfslab import NfsLab
from soak import Soak, SoakConfig, soak_settings
from stack import LabStack

MakeStack = Callable[..., LabStack]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[NfsLab]:
    """The lab with host a mounted through the fault-injection file system (EIO bursts)."""
    with NfsLab(tmp_path / "lab", faulty=("a",)) as mounted:
        yield mounted


def test_soak_under_faults_never_resurrects_and_converges_to_the_export(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    fusion, agent = soak_settings()
    stack = make_stack(hosts=("a", "b"), fusion=fusion, agent=agent)
    seed = int(os.environ.get("FUSTOR_SOAK_SEED", "20261129"))
    report = Soak(stack, lab, SoakConfig(seed=seed, operations=2000)).run()
    summary = "\n".join(report.lines())
    print(summary)
    assert report.resurrected == [], summary
    assert report.differences.total == 0, f"{summary}\n{stack.logs()}"
    assert report.converge_s is not None
    assert report.overflows >= 1 and report.io_errors >= 1, summary  # the faults really happened

"""Fixtures of the agent tests: a real Fusion process and real agent processes (helpers in
``agent_testkit``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "kit"))  # the repository's test kit

from agent_testkit import AgentProcess, FusionProcess, remove_tree
from faultfs import FaultFs, faultfs_unavailable_reason

from fustor_core.http_testing import report_fuzzing


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """The watched directory (removed afterwards however deep a test made it)."""
    root = tmp_path / "export"
    root.mkdir()
    yield root
    if root.exists():
        remove_tree(root)


@pytest.fixture
def fusion(tmp_path: Path) -> Iterator[FusionProcess]:
    """A real ``fustor-fusion serve`` on a free port, short timeouts for tests."""
    process = FusionProcess(tmp_path / "fusion")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def start_agent(tmp_path: Path, fusion: FusionProcess) -> Iterator[Callable[..., AgentProcess]]:
    """Start ``fustor-agent run`` processes; every one is stopped at the end."""
    agents: list[AgentProcess] = []

    def start(root: Path, name: str = "agent-a", **pipe: Any) -> AgentProcess:
        agent = AgentProcess(tmp_path / name, name, root, fusion, **pipe)
        agents.append(agent)
        agent.start()
        return agent

    yield start
    for agent in agents:
        agent.stop()


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[FaultFs]:
    """A FUSE mount (``faulty.mountpoint``) of ``faulty.backing`` that fails what the test says
    (``faulty.fail("/d/f", "getattr", error="EIO")``); real kernel errors for the agent."""
    reason = faultfs_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the FUSE fault-injection tests must run in CI, but {reason}")
        pytest.skip(reason)
    with FaultFs(tmp_path / "backing", tmp_path / "mnt") as mounted:
        yield mounted


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how many requests the schema fuzzer sent."""
    report_fuzzing(terminalreporter)

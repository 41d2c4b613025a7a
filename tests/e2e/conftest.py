"""Fixtures of the end-to-end matrix: the NFS lab, one registry per run, a stack per test."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "kit"))

from cluster import make_cluster  # noqa: F401  (the fixture of the cluster tests)
from nfslab import NfsLab, lab_unavailable_reason
from pgserver import pg_server  # noqa: F401  (a private PostgreSQL, for the cluster tests)
from stack import LabRegistry, LabStack

pytestmark = pytest.mark.lab


def _require_lab() -> None:
    reason = lab_unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"the NFS lab must run in CI, but {reason}")
    pytest.skip(f"NFS lab unavailable: {reason}")


@pytest.fixture(scope="session")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabRegistry]:
    _require_lab()
    started = LabRegistry.start(tmp_path_factory.mktemp("registry"))
    yield started
    started.service.stop()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[NfsLab]:
    _require_lab()
    with NfsLab(tmp_path / "lab") as mounted:
        yield mounted


@pytest.fixture
def make_stack(
    lab: NfsLab, registry: LabRegistry, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., LabStack]]:
    """Build a stack; ``make_stack(hosts=("a", "b"), fusion={...}, agent={...})`` starts Fusion,
    then the agents in order (the first is the leader), waiting for the leader's snapshot and
    for every other agent's realtime to watch.

    ``fusion_env`` adds to Fusion's environment (``{"FUSTOR_DISABLE_PLUGINS": "merge-mtime"}``);
    ``pausable`` hosts read through the test-only ``pausable`` source, driven by ``stack.gate``."""
    stacks: list[LabStack] = []

    def build(
        hosts: tuple[str, ...] = ("a", "b"),
        fusion: dict[str, Any] | None = None,
        agent: dict[str, Any] | None = None,
        fusion_env: dict[str, str] | None = None,
        pausable: tuple[str, ...] = (),
    ) -> LabStack:
        stack = LabStack(
            lab,
            registry,
            tmp_path / "services",
            fusion_settings=fusion or {},
            agent_settings=agent or {},
            fusion_env=fusion_env or {},
            pausable_hosts=pausable,
        )
        stacks.append(stack)
        stack.start_fusion()
        for i, host in enumerate(hosts):
            stack.start_agent(host)
            if i == 0:
                stack.wait_leader(host)
                stack.wait_snapshot(host)
            else:  # a test may change files through this host at once: its realtime must see them
                stack.wait(lambda h=host: realtime_state(stack, h) == "watching", 20, f"{host}'s realtime")
        return stack

    yield build
    failed = getattr(request.node, "rep_call", None)
    for stack in stacks:
        if failed is not None and failed.failed:
            print(stack.logs())
        stack.close()


def realtime_state(stack: LabStack, host: str) -> str | None:
    return stack.agent_pipe(host)["modes"].get("realtime", {}).get("state")  # type: ignore[no-any-return]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report

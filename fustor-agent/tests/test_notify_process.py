"""``fustor-agent run`` under a service manager (``Type=notify``): READY=1 only once the agent
does its job — realtime watching, a session with Fusion, and as leader its first snapshot
started — with a real AF_UNIX datagram socket as ``NOTIFY_SOCKET``."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from agent_testkit import AgentProcess, FusionProcess

from fustor_core.testing import NotifySocket, wait_for


def test_ready_after_the_first_snapshot_started_stopping_on_sigterm(
    tree: Path,
    fusion: FusionProcess,
    start_agent: Callable[..., AgentProcess],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(50):
        (tree / f"f{i}").touch()
    with NotifySocket(tmp_path / "notify") as manager:
        monkeypatch.setenv("NOTIFY_SOCKET", str(manager.path))
        monkeypatch.setenv("WATCHDOG_USEC", "400000")
        fusion.pause()  # no session can be opened: the agent runs, but is not doing its job yet
        try:
            agent = start_agent(tree)
            wait_for(
                lambda: any("opening a session" in m.get("STATUS", "") for m in manager.messages),
                20,
                "the status line to say what the agent waits for",
            )
            wait_for(lambda: len(manager.received("WATCHDOG")) >= 3, 10, "watchdog pings meanwhile")
            assert manager.received("READY") == []
        finally:
            fusion.resume()
        manager.wait_for("READY")
        snapshot = agent.mode("snapshot")
        assert snapshot.get("started_at") is not None, snapshot  # READY came after the snapshot started
        assert agent.status()["role"] == "leader"

        assert agent.process is not None
        agent.process.send_signal(signal.SIGTERM)
        agent.process.wait(15)
        stopping = manager.wait_for("STOPPING")
        assert stopping["STATUS"].startswith("stopping")

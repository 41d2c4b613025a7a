"""Fusion going away: changes made meanwhile are not lost; backpressure instead of dropping."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from agent_testkit import AgentProcess, FusionProcess, wait_for


def test_fusion_restarted_gets_the_tree_back_including_changes_made_while_it_was_down(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    (tree / "keep").mkdir()
    for i in range(20):
        (tree / "keep" / f"k{i}").write_bytes(b"k")
    (tree / "doomed.txt").touch()
    agent = start_agent(tree)
    wait_for(lambda: fusion.matches(tree), 10, "the first sync")
    first_session = agent.status()["session_id"]

    fusion.kill()  # crash: Fusion forgets everything it held in memory
    (tree / "doomed.txt").unlink()
    os.rename(tree / "keep" / "k0", tree / "keep" / "k0-renamed")
    (tree / "during").mkdir()
    for i in range(50):
        (tree / "during" / f"d{i}").write_bytes(b"d" * i)
    wait_for(lambda: agent.status()["last_error"], 5, "the agent to notice the outage")

    fusion.start()  # same port, empty tree
    wait_for(lambda: fusion.matches(tree), 20, f"recovery ({fusion.difference(tree)})")
    status = agent.status()
    assert status["session_id"] != first_session and status["role"] == "leader"
    assert status["counters"]["sessions_opened"] >= 2
    assert agent.runs("snapshot") >= 2  # a memory-only Fusion lost its view: the new tenure snapshots


def test_a_stalled_fusion_fills_the_bus_and_holds_the_watcher_without_losing_a_change(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    fusion.stop()
    fusion.configure(session_timeout_s=60)  # the stall must not expire the session: no re-snapshot
    fusion.start()
    agent = start_agent(tree, bus_capacity=40, batch_size=10)
    wait_for(lambda: agent.runs("snapshot") == 1, 10, "the (empty) snapshot")

    fusion.pause()  # SIGSTOP: connections hang, nothing is answered
    try:
        for i in range(300):
            (tree / f"f{i:03d}").write_bytes(b"x")

        def bus_full() -> bool:
            bus = agent.status()["bus"]
            return bus["producer_waits"] >= 1 and bus["depth"] >= bus["capacity"] - 10

        wait_for(bus_full, 10, "the bus to fill and the producer to wait")
        peak = agent.status()["bus"]["peak"]
        assert peak <= 40
    finally:
        fusion.resume()
    wait_for(lambda: fusion.matches(tree), 20, f"every change to arrive ({fusion.difference(tree)})")
    status = agent.status()
    assert status["counters"]["sessions_opened"] == 1
    assert agent.runs("snapshot") == 1  # nothing was recovered by a re-snapshot: the bus kept it all
    assert status["bus"]["peak"] <= 40

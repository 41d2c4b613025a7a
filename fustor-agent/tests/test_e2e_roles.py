"""Leader and follower per datastore: the leader scans, the follower only streams realtime."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from agent_testkit import AgentProcess, FusionProcess, wait_for

SESSION_TIMEOUT_S = 2.0  # the fusion fixture's
HEARTBEAT_S = 0.3

SCAN_COUNTERS = ("snapshot_walks", "audit_walks", "rechecks", "entries")


def scans(agent: AgentProcess) -> dict[str, int]:
    counters = agent.status()["source"]["counters"]
    return {name: int(counters.get(name, 0)) for name in SCAN_COUNTERS}


def test_first_agent_leads_and_scans_second_follows_without_scanning_then_takes_over(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    for i in range(10):
        (tree / f"hot{i}").write_bytes(b"fresh")  # fresh files are suspects: the sentinel has work
    leader = start_agent(tree, "host-a")
    wait_for(lambda: leader.status()["role"] == "leader", 10, "host-a to lead")
    follower = start_agent(tree, "host-b")
    wait_for(lambda: follower.status()["role"] == "follower", 10, "host-b to follow")
    wait_for(lambda: leader.runs("audit") >= 2 and leader.runs("sentinel") >= 2, 15, "the leader's audits")
    assert leader.source_counter("snapshot_walks") == 1 and leader.source_counter("rechecks") >= 1

    # the follower streams realtime but never scans
    (tree / "seen-by-both").touch()
    wait_for(lambda: follower.status()["counters"].get("realtime_rows_read", 0) >= 1, 5, "follower realtime")
    assert scans(follower) == dict.fromkeys(SCAN_COUNTERS, 0)
    assert follower.trigger("audit").status_code == 409
    assert set(follower.status()["modes"]) == {"realtime"}

    # the leader dies without a goodbye: the follower takes over within the session timeout
    leader.kill()
    killed = time.monotonic()
    wait_for(lambda: follower.status()["role"] == "leader", SESSION_TIMEOUT_S + 3, "host-b to take over")
    took_over_s = time.monotonic() - killed
    assert took_over_s <= SESSION_TIMEOUT_S + 2 * HEARTBEAT_S + 1.0

    # ... and then does the leader's work: snapshot, audit and sentinel
    wait_for(
        lambda: (
            (s := scans(follower))["snapshot_walks"] >= 1 and s["audit_walks"] >= 1 and s["rechecks"] >= 1
        ),
        15,
        "the new leader's snapshot, audit and sentinel",
    )
    assert follower.runs("snapshot") == 1 and follower.runs("audit") >= 1 and follower.runs("sentinel") >= 1
    (tree / "after-failover").touch()
    wait_for(lambda: fusion.matches(tree), 10, f"Fusion to match ({fusion.difference(tree)})")
    assert fusion.stats()["leader_agent_id"] == "host-b"

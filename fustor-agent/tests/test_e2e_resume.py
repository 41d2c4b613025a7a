"""A leader tenure resumes with an audit, not a snapshot, when Fusion still holds the view the
agent synced — after a Fusion restart (the view reloaded from its journal) and after an agent
restart (the directory cache reloaded from the agent's state dir) — and starts with a snapshot
when the view is new or lost, or the saved cache cannot be trusted.

The trees are made "old" (directory mtimes an hour back) so that the snapshot caches every
directory (a directory younger than the source's racy window is never cached): the resumed audit
then has something to skip, and what it must list is exactly what changed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from agent_testkit import AgentProcess, FusionProcess, wait_for

DIRS = 8
FILES = 10


@pytest.fixture
def durable_fusion(tmp_path: Path) -> Iterator[FusionProcess]:
    """Fusion with its sqlite journal: its view survives a restart."""
    process = FusionProcess(tmp_path / "fusion")
    process.configure(journal={"driver": "sqlite", "path": str(tmp_path / "journal")})
    process.start()
    yield process
    process.stop()


@pytest.fixture
def start_agent_on(tmp_path: Path) -> Iterator[Callable[..., AgentProcess]]:
    """``start_agent_on(fusion, root)``: a real agent (stopped at the end); audits only on request
    (a long interval), so every audit counted is one the tenure start ran."""
    agents: list[AgentProcess] = []

    def start(fusion: FusionProcess, root: Path, name: str = "agent-a", **pipe: Any) -> AgentProcess:
        settings: dict[str, Any] = {"modes": {"audit": {"interval_s": 3600, "deep_period_s": 0}}, **pipe}
        agent = AgentProcess(tmp_path / name, name, root, fusion, **settings)
        agents.append(agent)
        agent.start()
        return agent

    yield start
    for agent in agents:
        agent.stop()


def old_tree(root: Path) -> None:
    """DIRS directories of FILES files, every mtime an hour back."""
    hour_ago = time.time() - 3600
    for d in range(DIRS):
        directory = root / f"d{d}"
        directory.mkdir()
        for f in range(FILES):
            path = directory / f"f{f}.dat"
            path.write_bytes(b"x" * f)
            os.utime(path, (hour_ago, hour_ago))
    for directory in [*root.iterdir(), root]:
        os.utime(directory, (hour_ago, hour_ago))


def change_tree_behind_the_agents_back(root: Path) -> None:
    """Deletions, creations and a rename in three directories; a whole directory goes, one comes."""
    (root / "d0" / "f0.dat").unlink()
    (root / "d0" / "f1.dat").unlink()
    (root / "d1" / "new.dat").write_bytes(b"new")
    os.rename(root / "d2" / "f3.dat", root / "d2" / "f3-renamed.dat")
    shutil.rmtree(root / "d3")
    (root / "fresh").mkdir()
    for i in range(3):
        (root / "fresh" / f"n{i}.dat").write_bytes(b"n" * i)


def tenure(agent: AgentProcess) -> dict[str, Any]:
    return agent.status().get("tenure") or {}


def wait_synced_and_saved(agent: AgentProcess, fusion: FusionProcess, root: Path) -> None:
    """The first snapshot has ended (the agent saves its cache before it counts the run)."""
    wait_for(lambda: fusion.matches(root) and agent.runs("snapshot") == 1, 20, "the first sync")


def wait_tenure_scan(agent: AgentProcess, snapshots: int, audits: int) -> None:
    """Wait until the new tenure's first scan (whichever it is) has finished."""
    wait_for(
        lambda: agent.runs("snapshot") > snapshots or agent.runs("audit") > audits,
        20,
        "the new leader tenure's first scan",
    )


def test_after_a_fusion_restart_with_its_journal_the_leader_resumes_with_an_audit(
    tree: Path, durable_fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess]
) -> None:
    fusion = durable_fusion
    old_tree(tree)
    agent = start_agent_on(fusion, tree)
    wait_synced_and_saved(agent, fusion, tree)
    assert (agent.runs("snapshot"), agent.runs("audit")) == (1, 0)
    view_id = fusion.stats()["journal"]["id"]

    fusion.kill()  # a crash: the journal has every acknowledged batch
    change_tree_behind_the_agents_back(tree)  # realtime sees these and keeps them queued
    fusion.start()
    wait_tenure_scan(agent, snapshots=1, audits=0)
    assert agent.runs("snapshot") == 1, "the new tenure re-ran the snapshot instead of resuming"
    wait_for(lambda: agent.runs("audit") == 1, 10, "the resumed audit")
    started = tenure(agent)
    assert (started["started_with"], started["reason"]) == ("audit", "view_restored"), started
    assert fusion.stats()["journal"]["id"] == view_id
    wait_for(lambda: fusion.matches(tree), 20, f"the view to equal the export ({fusion.difference(tree)})")
    audit = agent.mode("audit")
    assert audit["dirs_skipped"] == DIRS - 4, audit  # the saved cache let it skip what did not change
    assert agent.mode("snapshot")["state"] == "standing aside"
    assert agent.status()["dir_cache"]["scan"] == "audit"  # and the audit saved it again


@pytest.mark.parametrize("how", ["sigterm", "sigkill"])
def test_an_agent_restarted_against_a_surviving_view_resumes_with_an_audit_that_finds_what_changed(
    tree: Path, durable_fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess], how: str
) -> None:
    fusion = durable_fusion
    old_tree(tree)
    agent = start_agent_on(fusion, tree)
    wait_synced_and_saved(agent, fusion, tree)
    if how == "sigterm":
        agent.stop()
    else:
        agent.kill()
    change_tree_behind_the_agents_back(tree)  # nobody watches: only an audit or a snapshot finds these
    assert not fusion.matches(tree)

    agent.start()  # the same state dir
    wait_tenure_scan(agent, snapshots=0, audits=0)
    assert agent.runs("snapshot") == 0, "the restarted agent snapshotted instead of resuming"
    started = tenure(agent)
    assert (started["started_with"], started["reason"]) == ("audit", "same_view"), started
    wait_for(lambda: fusion.matches(tree), 20, f"the view to equal the export ({fusion.difference(tree)})")
    audit = agent.mode("audit")
    # d0, d1, d2, the root (d3 went, fresh came) are listed; the other directories were skipped
    assert audit["dirs_listed"] == 5 and audit["dirs_skipped"] == DIRS - 4, audit
    assert "/d3" not in fusion.listing() and "/fresh/n2.dat" in fusion.listing()


def test_a_fusion_that_lost_its_view_gets_a_snapshot(
    tree: Path, fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess]
) -> None:
    """``journal: {driver: none}``: the restarted Fusion holds a new, empty view (a new id)."""
    old_tree(tree)
    agent = start_agent_on(fusion, tree)
    wait_synced_and_saved(agent, fusion, tree)
    fusion.kill()
    change_tree_behind_the_agents_back(tree)
    fusion.start()
    wait_for(lambda: agent.runs("snapshot") == 2, 20, "the new view's snapshot")
    started = tenure(agent)
    assert (started["started_with"], started["reason"]) == ("snapshot", "view_changed"), started
    wait_for(lambda: fusion.matches(tree), 20, f"the view to equal the export ({fusion.difference(tree)})")
    # the new view's cache replaced the old one
    wait_for(
        lambda: agent.status()["dir_cache"].get("view_id") == fusion.stats()["journal"]["id"],
        10,
        "the cache of the new view to be saved",
    )


def test_a_corrupt_cache_is_logged_and_the_tenure_starts_with_a_snapshot(
    tree: Path, durable_fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess]
) -> None:
    fusion = durable_fusion
    old_tree(tree)
    agent = start_agent_on(fusion, tree)
    wait_synced_and_saved(agent, fusion, tree)
    agent.stop()
    cache = agent.state_dir / "demo" / "dircache"
    data = cache.read_bytes()
    cache.write_bytes(data[: len(data) - 7])  # truncated: the checksum no longer matches
    change_tree_behind_the_agents_back(tree)

    agent.start()
    wait_for(lambda: agent.runs("snapshot") == 1, 20, "the snapshot")
    started = tenure(agent)
    assert (started["started_with"], started["reason"]) == ("snapshot", "cache_unreadable"), started
    assert "directory cache unusable" in agent.log_path.read_text()
    wait_for(lambda: fusion.matches(tree), 20, f"the view to equal the export ({fusion.difference(tree)})")
    wait_for(lambda: "error" not in agent.status()["dir_cache"], 10, "a good cache to replace it")

    agent.stop()  # and the replaced cache is good: the next restart resumes
    agent.start()
    wait_for(lambda: agent.runs("audit") == 1, 20, "the resumed audit")
    assert agent.runs("snapshot") == 0 and tenure(agent)["started_with"] == "audit"


def test_a_cache_made_from_another_source_path_is_not_used(
    tmp_path: Path, durable_fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess]
) -> None:
    """The export mounted elsewhere (here: moved) is another source URI: snapshot."""
    fusion = durable_fusion
    first = tmp_path / "mnt-a"
    first.mkdir()
    old_tree(first)
    agent = start_agent_on(fusion, first)
    wait_synced_and_saved(agent, fusion, first)
    agent.stop()
    moved = tmp_path / "mnt-b"
    os.rename(first, moved)
    settings = {"modes": {"audit": {"interval_s": 3600, "deep_period_s": 0}}}
    again = AgentProcess(agent.workdir, "agent-a", moved, fusion, **settings)
    again.start()
    try:
        wait_for(lambda: again.runs("snapshot") == 1, 20, "the snapshot")
        assert tenure(again)["reason"] == "source_changed", tenure(again)
        wait_for(lambda: fusion.matches(moved), 20, "the view to equal the export")
    finally:
        again.stop()


def test_a_snapshot_still_runs_on_request_in_a_resumed_tenure(
    tree: Path, durable_fusion: FusionProcess, start_agent_on: Callable[..., AgentProcess]
) -> None:
    fusion = durable_fusion
    old_tree(tree)
    agent = start_agent_on(fusion, tree)
    wait_synced_and_saved(agent, fusion, tree)
    agent.stop()
    agent.start()
    wait_for(lambda: agent.runs("audit") == 1, 20, "the resumed audit")
    agent.run_now("snapshot")
    assert agent.runs("snapshot") == 1 and agent.status()["dir_cache"]["scan"] == "snapshot"


@pytest.mark.parametrize("deep_period_s", [2.0, 0.0], ids=["deep-audit", "no-deep-audit"])
def test_a_file_rewritten_in_place_while_the_agent_was_down_is_left_to_the_deep_audit(
    tree: Path,
    durable_fusion: FusionProcess,
    start_agent_on: Callable[..., AgentProcess],
    deep_period_s: float,
) -> None:
    """An in-place rewrite changes no directory's mtime: the resumed audit skips the directory,
    and only the deep audit's slices (saved progress, 4 slices of 0.5 s here) re-stat the file."""
    fusion = durable_fusion
    old_tree(tree)
    settings = {"modes": {"audit": {"interval_s": 0.5, "deep_period_s": deep_period_s}}}
    agent = start_agent_on(fusion, tree, **settings)
    wait_synced_and_saved(agent, fusion, tree)
    agent.stop()
    rewritten = tree / "d5" / "f2.dat"
    rewritten.write_bytes(b"rewritten in place")  # d5's mtime does not move
    agent.start()
    wait_for(lambda: agent.runs("audit") >= 6, 20, "six audits of the resumed tenure")
    assert agent.runs("snapshot") == 0 and tenure(agent)["started_with"] == "audit"
    size = fusion.listing()["/d5/f2.dat"][1]
    if deep_period_s:
        wait_for(lambda: fusion.matches(tree), 10, f"the deep audit to find it ({fusion.difference(tree)})")
    else:
        assert size == 2, "without the deep audit nothing re-stats a file in an unchanged directory"

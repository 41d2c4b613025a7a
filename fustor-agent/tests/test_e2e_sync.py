"""A real agent and a real Fusion: what happens in the watched directory shows up in Fusion."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

from agent_testkit import AgentProcess, FusionProcess, wait_for


def populate(root: Path) -> None:
    (root / "proj" / "run1").mkdir(parents=True)
    for i in range(20):
        (root / "proj" / "run1" / f"r{i}.dat").write_bytes(b"x" * i)
    (root / "readme").write_text("hello")


def test_the_initial_snapshot_and_later_changes_appear_in_fusions_tree(
    tree: Path, tmp_path: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    populate(tree)
    agent = start_agent(tree)
    wait_for(lambda: fusion.matches(tree), 15, "the snapshot to reach Fusion")
    assert agent.runs("snapshot") == 1

    (tree / "new.txt").write_bytes(b"new file")  # create
    with open(tree / "readme", "a") as handle:  # modify
        handle.write(" world")
    (tree / "proj" / "run1" / "r3.dat").unlink()  # delete
    os.rename(tree / "proj" / "run1" / "r4.dat", tree / "proj" / "run1" / "renamed.dat")  # rename a file
    os.rename(tree / "proj" / "run1", tree / "proj" / "run1-final")  # rename a directory
    staging = tmp_path / "staging" / "upload-7"
    (staging / "lane" / "deep").mkdir(parents=True)
    for i in range(30):
        (staging / "lane" / "deep" / f"part{i}").write_bytes(b"y" * (i + 1))
    os.rename(staging, tree / "upload-7")  # a directory tree moved in
    (tree / "doomed" / "inner").mkdir(parents=True)
    (tree / "doomed" / "inner" / "f").touch()
    wait_for(lambda: "/doomed/inner/f" in fusion.listing(), 10, "the doomed tree to appear")
    shutil.rmtree(tree / "doomed")  # a directory deleted with its subtree

    wait_for(lambda: fusion.matches(tree), 10, f"Fusion to match the directory ({fusion.difference(tree)})")
    assert "/upload-7/lane/deep/part29" in fusion.listing()
    assert not any(path.startswith("/proj/run1/") for path in fusion.listing())
    status = agent.status()
    assert status["counters"].get("rows_dropped", 0) == 0
    assert status["counters"]["realtime_rows_read"] > 0


def test_robustness_cases_do_not_stop_the_sync(
    tree: Path, tmp_path: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    outside = tmp_path / "outside"
    (outside / "private").mkdir(parents=True)
    (outside / "private" / "secret").touch()
    os.symlink(outside, tree / "link-out")  # never followed
    open(os.path.join(os.fsencode(tree), b"latin1-\xe9.txt"), "wb").close()  # not UTF-8: skipped
    deep = str(tree)
    for _ in range(300):
        deep = os.path.join(deep, "d")
        os.mkdir(deep)
    open(os.path.join(deep, "bottom"), "w").close()
    agent = start_agent(tree)
    wait_for(lambda: fusion.matches(tree), 20, "the snapshot to reach Fusion")
    listing = fusion.listing()
    assert "/link-out" in listing and not listing["/link-out"][0]
    assert not any(path.startswith("/link-out/") for path in listing)
    assert agent.source_counter("invalid_utf8") >= 1
    # realtime goes on with the same kinds of entries
    open(os.path.join(os.fsencode(tree), b"again-\xff"), "wb").close()
    open(os.path.join(deep, "bottom2"), "w").close()
    os.symlink("/etc", tree / "link-etc")
    wait_for(lambda: fusion.matches(tree), 10, f"realtime changes ({fusion.difference(tree)})")
    assert agent.alive


def test_sigterm_delivers_and_closes_the_session(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(tree)
    wait_for(lambda: agent.runs("snapshot") == 1, 10, "the agent to settle")
    (tree / "last-words").touch()  # and stop at once: the queued change must still be delivered
    assert agent.stop() == 0
    assert "/last-words" in fusion.listing()
    assert fusion.sessions() == []
    assert fusion.stats()["leader"] is None
    assert "agent stopped" in agent.log_tail()


def test_the_agent_api_runs_an_audit_on_request_for_a_token_holder(
    tree: Path, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    agent = start_agent(tree, modes={"audit": {"interval_s": 3600}})
    wait_for(lambda: agent.runs("snapshot") == 1, 10, "the snapshot")
    assert agent.trigger("audit", token=None).status_code == 401
    assert agent.trigger("audit", token="wrong").status_code == 401
    assert agent.runs("audit") == 0
    assert agent.trigger("audit").status_code == 202
    wait_for(lambda: agent.runs("audit") == 1, 10, "the requested audit")
    assert agent.trigger("snapshot").status_code == 202
    wait_for(lambda: agent.runs("snapshot") == 2, 10, "the requested snapshot")

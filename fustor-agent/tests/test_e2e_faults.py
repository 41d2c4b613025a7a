"""Stat errors on a real FUSE mount (EIO injected on one file): the audit must not turn "could
not stat" into "deleted", must count the failure in the status, and must retry next time."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_testkit import AgentProcess, FusionProcess, wait_for


def build(root: Path) -> None:
    """/d/f1..f5 and /e/g, settled an hour ago (the snapshot caches them; audits skip them)."""
    (root / "d").mkdir()
    for i in range(1, 6):
        (root / "d" / f"f{i}").write_bytes(b"x" * i)
    (root / "e").mkdir()
    (root / "e" / "g").write_bytes(b"g")
    settle(root / "d", root / "e", root)


def settle(*directories: Path, age_s: float = 3600) -> None:
    past = time.time() - age_s
    for directory in directories:
        os.utime(directory, (past, past))


def test_an_entry_whose_stat_fails_stays_in_the_view_and_its_directory_is_listed_again_next_audit(
    faulty: Any, fusion: FusionProcess, start_agent: Callable[..., AgentProcess]
) -> None:
    build(faulty.backing)
    agent = start_agent(faulty.mountpoint, modes={"audit": {"interval_s": 3600, "deep_period_s": 0}})
    wait_for(lambda: fusion.matches(faulty.backing), 15, "the snapshot")

    # from a host without an agent: f2 is deleted, a file is added (so /d's mtime changes and
    # the audit lists /d), and stat'ing f3 starts failing with EIO on this host
    (faulty.backing / "d" / "f2").unlink()
    (faulty.backing / "d" / "added").write_bytes(b"new")
    settle(faulty.backing / "d", age_s=1800)
    faulty.fail("/d/f3", "getattr", error="EIO")
    agent.run_now("audit")
    assert ("getattr", "/d/f3", "EIO") in faulty.hits()
    listing = fusion.listing()
    assert "/d/f3" in listing, "a file whose stat failed was deleted from the view"
    assert "/d/f2" in listing  # /d was not fully listed: nothing is inferred from what is missing
    assert "/d/added" in listing  # the rows that were read still apply
    status = agent.status()
    assert status["stat_errors"] == {"EIO": 1}
    assert status["source"]["counters"]["dirs_incomplete"] == 1

    # the fault clears: /d was kept out of the cache, so the next audit lists it again, although
    # its mtime has not changed since the last audit
    faulty.clear()
    agent.run_now("audit")
    wait_for(lambda: fusion.matches(faulty.backing), 10, f"the retry ({fusion.difference(faulty.backing)})")
    assert "/d/f2" not in fusion.listing() and "/d/f3" in fusion.listing()
    assert agent.status()["stat_errors"] == {"EIO": 1}  # cumulative
    assert agent.mode("audit")["dirs_listed"] == 1  # /d only: / and /e are unchanged and skipped

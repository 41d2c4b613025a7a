"""The consistency scenario matrix (issue 6) on the bindfs NFS lab, with real processes.

Hosts: ``a`` runs the leader agent, ``b`` a follower agent, ``c`` has no agent (a blind spot).
Audits are triggered through the leader's API so that "after the next audit" is exact. Races
between a scan and a delete (B5, D2, D3) are played in a fixed order: the leader reads through
the test-only ``pausable`` source (``tests/plugins/fustor-test-pausable``), which holds the scan's
stale row back until the delete was applied, and each race runs again without the rule that
protects it, to show the file is resurrected then.
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from nfslab import NfsLab
from stack import LabStack, export_file_count, write

from fustor_test_pausable.gate import Scan

MakeStack = Callable[..., LabStack]


def make_tree(lab: NfsLab, top: str, dirs: int, files: int) -> list[str]:
    """Create ``dirs`` × ``files`` small files in the export directly (fast, no agent sees it)."""
    paths = []
    for d in range(dirs):
        directory = lab.export / top.lstrip("/") / f"d{d:03d}"
        directory.mkdir(parents=True, exist_ok=True)
        for f in range(files):
            (directory / f"f{f:04d}.dat").write_bytes(b"x" * (f % 7))
            paths.append(f"{top}/d{d:03d}/f{f:04d}.dat")
    return paths


@contextmanager
def slow_writer(
    path: Path, *, seconds: float, every: float = 0.25, chunk: int = 64 * 1024
) -> Iterator[threading.Event]:
    """Append to ``path`` every ``every`` seconds for ``seconds``; the event is set when done."""
    done = threading.Event()

    def run() -> None:
        end = time.monotonic() + seconds
        with path.open("ab") as handle:
            while time.monotonic() < end:
                handle.write(b"\0" * chunk)
                handle.flush()
                os.fsync(handle.fileno())
                done.wait(every)
        done.set()

    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        thread.join(seconds + 5)


def settled_tree(lab: NfsLab, top: str, dirs: int, files: int) -> list[str]:
    """:func:`make_tree` with every mtime an hour old: nothing is hot, so no suspect rule or
    sentinel re-check acts on these files; only the rule under test decides their fate."""
    paths = make_tree(lab, top, dirs, files)
    old = time.time() - 3600
    for path in paths:
        os.utime(lab.export / path.lstrip("/"), (old, old))
    for d in range(dirs):
        os.utime(lab.export / top.lstrip("/") / f"d{d:03d}", (old, old))
    return paths


def host_a_sees(
    stack: LabStack, lab: NfsLab, path: str, *, size: int | None = None, gone: bool = False
) -> None:
    """Wait until the leader's mount shows a change made through another host: like an NFS
    client, host a serves cached attributes and names (FUSE attr/entry timeouts) for a while,
    and an audit before that rightly reports what host a still sees."""

    parent = os.path.dirname(path)

    def visible() -> bool:
        target = lab.path("a", path)
        if lab.path("a", parent).stat().st_mtime != (lab.export / parent.lstrip("/")).stat().st_mtime:
            return False  # the audit would find the directory unchanged and skip it
        if gone:
            return not target.exists()
        return target.exists() and (size is None or target.stat().st_size == size)

    stack.wait(visible, 5, f"host a to see {path} {'gone' if gone else 'changed'}")


def list_again_at_the_next_audit(stack: LabStack, lab: NfsLab, directory: str) -> None:
    """Give ``directory`` another mtime through the export (no agent sees it), so the leader's
    next audit lists it instead of skipping it as unchanged since the snapshot; wait until host
    a's mount shows it (its attribute cache may hold the old mtime for a while)."""
    target = lab.export / directory.lstrip("/")
    earlier = target.stat().st_mtime - 60
    os.utime(target, (earlier, earlier))
    stack.wait(lambda: lab.path("a", directory).stat().st_mtime == earlier, 5, f"host a to see {directory}")


def delete_while_the_leader_scans(
    stack: LabStack, lab: NfsLab, *, scan: Scan, victim: str, deleting_host: str
) -> Counter[str]:
    """The race, in a fixed order: the leader's ``scan`` (snapshot or audit) lists ``victim``,
    the victim is deleted through a watched mount and Fusion applies the realtime delete, then
    the scan's stale row for it arrives. The leader reads through the ``pausable`` source, which
    holds the batch with the victim's row back until released. Returns the rows Fusion dropped
    meanwhile, by reason."""
    assert stack.node(victim) is not None
    dropped_before = Counter(stack.stats()["rows_dropped"])
    tombstones_before = stack.stats()["tombstones"]
    stack.gate.arm(scan, victim)
    runs_before = stack.mode_runs("a", scan)
    answer = stack.http.post(
        f"http://127.0.0.1:{stack.agent_ports['a']}/api/v1/pipes/lab/{scan}",
        headers={"Authorization": "Bearer lab-agent-token"},
    )
    assert answer.status_code == 202, answer.text
    stack.gate.wait_paused(20)  # the scan listed the victim; its row is held back
    lab.path(deleting_host, victim).unlink()
    # the realtime delete reached Fusion, with the directory's new mtime and (rule loaded) a tombstone
    stack.wait_gone(victim)
    directory = victim.rpartition("/")[0]
    stack.wait_node(directory, mtime=(lab.export / directory.lstrip("/")).stat().st_mtime)
    tombstones = 0 if "merge-tombstone" in stack.disabled_plugins else 1
    stack.wait(lambda: stack.stats()["tombstones"] == tombstones_before + tombstones, 5, "the tombstones")
    stack.gate.release()
    stack.wait(lambda: stack.mode_runs("a", scan) > runs_before, 30, f"the {scan} to finish")
    return Counter(stack.stats()["rows_dropped"]) - dropped_before


def assert_the_stale_row(
    stack: LabStack, lab: NfsLab, victim: str, dropped: Counter[str], protected_by: set[str], files: int
) -> None:
    """Either a protecting rule dropped the stale row (for one of the ``protected_by`` reasons:
    when two rules would drop it, only the first one's reason is counted) and the file stays
    gone, or — no rule protecting — the deleted file is back in the view."""
    assert not (lab.export / victim.lstrip("/")).exists()
    if protected_by:
        assert sum(dropped[reason] for reason in protected_by) == 1, dropped
        assert stack.node(victim) is None
        assert stack.stats()["files"] == files - 1
    else:
        assert not dropped.keys() & {"tombstoned", "parent_changed"}, dropped
        assert stack.node(victim) is not None, "without the rules the stale row resurrects the file"
        assert stack.stats()["files"] == files


# -- A: leadership ------------------------------------------------------------------------------


def test_a1_the_first_agent_to_connect_is_leader(make_stack: MakeStack) -> None:
    stack = make_stack(hosts=("a", "b"))
    stack.wait(
        lambda: stack.roles() == {"host-a": "leader", "host-b": "follower"}, 10, "a leader, b follower"
    )
    assert stack.stats()["sessions"] == 2


def test_a2_the_follower_does_no_snapshot_audit_or_sentinel_io(make_stack: MakeStack, lab: NfsLab) -> None:
    write(lab.path("a", "/d/seen-by-snapshot.dat"))
    stack = make_stack(hosts=("a", "b"))
    stack.run_now("a", "audit")
    stack.wait(lambda: stack.mode_runs("a", "sentinel") >= 2, 10, "leader sentinel sweeps")
    follower = stack.agent_pipe("b")
    assert follower["role"] == "follower"
    for mode in ("snapshot", "audit", "sentinel"):
        assert not follower["modes"].get(mode, {}).get("runs"), (mode, follower["modes"])
    scanned = {k: v for k, v in follower["source"]["counters"].items() if "scan" in k or "audit" in k}
    assert not any(scanned.values()), scanned
    # the follower still reports what happens on its own host
    write(lab.path("b", "/d/from-follower.dat"))
    stack.wait_node("/d/from-follower.dat")


def test_a3_fusion_restart_reopens_sessions_and_the_tree_recovers(make_stack: MakeStack, lab: NfsLab) -> None:
    make_tree(lab, "/r", 2, 25)
    stack = make_stack(hosts=("a", "b"))
    stack.wait(lambda: stack.stats()["files"] == 50, 15, "50 files in Fusion")
    assert stack.fusion is not None
    stack.fusion.stop()
    write(lab.path("a", "/r/written-during-outage.dat"))
    stack.start_fusion()
    stack.wait(lambda: stack.stats()["files"] == export_file_count(lab) == 51, 30, "the tree to recover")
    stack.wait(
        lambda: sorted(stack.roles().values()) == ["follower", "leader"], 15, "both sessions re-opened"
    )
    stack.wait_node("/r/written-during-outage.dat")


# -- B: blind spots -----------------------------------------------------------------------------


def test_b1_a_file_created_through_the_blind_mount_appears_after_the_audit_flagged_agent_missing(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    write(lab.path("a", "/up/known.dat"))
    stack = make_stack()
    write(lab.path("c", "/up/blind.dat"), b"hello")
    host_a_sees(stack, lab, "/up/blind.dat")
    stack.run_now("a", "audit")
    node = stack.wait_node("/up/blind.dat", agent_missing=True)
    assert node["size"] == 5
    assert "/up/blind.dat" in stack.blind_spots()[0]
    assert stack.node("/up/known.dat")["agent_missing"] is False  # type: ignore[index]
    assert stack.stats()["has_blind_spot"] is True


def test_b2_a_file_deleted_through_the_blind_mount_disappears_after_the_audit_as_a_blind_spot_deletion(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    hour_ago = (
        time.time() - 3600
    )  # cold files: the sentinel does not re-check them, only the audit finds the loss
    for name in ("gone", "stays"):
        os.utime(write(lab.path("a", f"/up/{name}.dat")), (hour_ago, hour_ago))
    stack = make_stack()
    stack.wait_node("/up/gone.dat")
    lab.path("c", "/up/gone.dat").unlink()
    host_a_sees(stack, lab, "/up/gone.dat", gone=True)
    stack.run_now("a", "audit")
    stack.wait_gone("/up/gone.dat")
    assert "/up/gone.dat" in stack.blind_spots()[1]
    assert stack.node("/up/stays.dat") is not None


def test_b3_a_file_modified_through_the_blind_mount_gets_new_size_and_mtime_after_the_audit(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    write(lab.path("a", "/up/changing.dat"), b"1")
    stack = make_stack()
    before = stack.wait_node("/up/changing.dat")
    target = lab.path("c", "/up/changing.dat")
    target.write_bytes(b"123456789")
    os.utime(target, (before["mtime"] + 5, before["mtime"] + 5))
    host_a_sees(stack, lab, "/up/changing.dat", size=9)
    # an in-place change leaves the directory's mtime alone: only a deep audit is sure to look
    # (a plain one skips /up once the snapshot cached it; B6 shows the rolling deep cycle)
    stack.run_now("a", "audit", deep=True)
    node = stack.wait_node("/up/changing.dat", size=9)
    assert node["mtime"] == before["mtime"] + 5


def test_b4_blind_spot_entries_clear_on_an_agent_touch_and_on_a_new_leader_session(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    write(lab.path("a", "/up/known.dat"))
    stack = make_stack(hosts=("a", "b"))
    write(lab.path("c", "/up/touched-later.dat"))
    write(lab.path("c", "/up/left-alone.dat"))
    host_a_sees(stack, lab, "/up/touched-later.dat")
    host_a_sees(stack, lab, "/up/left-alone.dat")
    stack.run_now("a", "audit")
    stack.wait_node("/up/touched-later.dat", agent_missing=True)
    stack.wait_node("/up/left-alone.dat", agent_missing=True)
    # an agent-watched host touches the file: the flag clears
    with lab.path("a", "/up/touched-later.dat").open("ab") as handle:
        handle.write(b"more")
    stack.wait_node("/up/touched-later.dat", agent_missing=False)
    assert "/up/touched-later.dat" not in stack.blind_spots()[0]
    assert "/up/left-alone.dat" in stack.blind_spots()[0]
    # a new leader session starts discovery afresh
    stack.agents["a"].kill()
    stack.wait_leader("b", timeout=10)
    stack.wait(lambda: stack.blind_spots() == (set(), set()), 10, "blind-spot lists to clear")
    assert stack.node("/up/left-alone.dat")["agent_missing"] is False  # type: ignore[index]


AUDIT_RACE_B5 = [
    pytest.param((), {"tombstoned", "parent_changed"}, id="default-rules"),
    pytest.param(("merge-tombstone",), {"parent_changed"}, id="merge-mtime-alone-protects"),
    pytest.param(("merge-tombstone", "merge-mtime"), set(), id="without-both-it-resurrects"),
]


@pytest.mark.parametrize(("disabled", "protected_by"), AUDIT_RACE_B5)
def test_b5_a_file_deleted_via_a_watched_mount_while_an_audit_runs_is_not_re_added(
    make_stack: MakeStack, lab: NfsLab, disabled: tuple[str, ...], protected_by: set[str]
) -> None:
    """The leader's own host deletes the file after its audit listed it. Two rules each drop the
    stale audit row: the tombstone of the realtime delete, and merge-mtime's parent check (the
    delete refreshed the directory's mtime past the one the audit listed it with)."""
    paths = settled_tree(lab, "/busy", 3, 5)
    victim = paths[5]
    stack = make_stack(pausable=("a",), fusion_env={"FUSTOR_DISABLE_PLUGINS": ",".join(disabled)})
    list_again_at_the_next_audit(stack, lab, victim.rpartition("/")[0])
    dropped = delete_while_the_leader_scans(stack, lab, scan="audit", victim=victim, deleting_host="a")
    assert_the_stale_row(stack, lab, victim, dropped, protected_by, len(paths))


def rewrite_in_place_in_a_settled_directory(
    make_stack: MakeStack, lab: NfsLab, deep_period_s: float
) -> tuple[LabStack, str, int]:
    """Ten settled directories and files (an hour old); once the leader has them cached, a file
    is rewritten in place through the blind mount: 2 bytes become 9, its mtime changes (still an
    hour old: no sentinel looks at it), no directory's mtime does. Returns the stack, the file,
    and the audit count once host a's mount shows the rewrite."""
    past = time.time() - 3600
    for d in range(10):  # old files too: not suspect, so the sentinel never re-checks them
        os.utime(write(lab.export / "settled" / f"d{d}" / "data.bin", b"12"), (past, past))
    for directory in [*(lab.export / "settled").iterdir(), lab.export / "settled", lab.export]:
        os.utime(directory, (past, past))
    stack = make_stack(
        hosts=("a",), agent={"modes": {"audit": {"interval_s": 0.5, "deep_period_s": deep_period_s}}}
    )
    target = "/settled/d3/data.bin"
    stack.wait_node(target, size=2)
    stack.wait(lambda: stack.mode_runs("a", "audit") >= 2, 10, "audits with a seeded cache")
    with lab.path("c", target).open("r+b") as handle:
        handle.write(b"123456789")
    os.utime(lab.path("c", target), (past + 60, past + 60))
    os.utime(lab.export / "settled" / "d3", (past, past))
    host_a_sees(stack, lab, target, size=9)  # from now on a deep check of d3 finds it
    return stack, target, stack.mode_runs("a", "audit")


def test_b6_a_file_rewritten_in_place_through_the_blind_mount_is_seen_within_one_deep_cycle(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack, target, audits_before = rewrite_in_place_in_a_settled_directory(make_stack, lab, 2.0)
    slices = stack.agent_pipe("a")["modes"]["audit"]["deep"]["slices_per_cycle"]
    assert slices == 4  # ceil(2 s / 0.5 s): a quarter of the directories per audit
    node = stack.wait_node(target, timeout=20, size=9)
    assert node["mtime"] == os.stat(lab.path("c", target)).st_mtime
    assert stack.mode_runs("a", "audit") - audits_before <= slices + 1  # within one deep cycle


def test_b6_without_the_deep_audit_the_rewrite_stays_unseen(make_stack: MakeStack, lab: NfsLab) -> None:
    """The same scenario with ``modes.audit.deep_period_s: 0``: as many audits, and the view still
    holds the old size (this is what proves the test above can fail)."""
    stack, target, audits_before = rewrite_in_place_in_a_settled_directory(make_stack, lab, 0)
    stack.wait(lambda: stack.mode_runs("a", "audit") >= audits_before + 5, 20, "as many audits")
    assert stack.node(target)["size"] == 2  # type: ignore[index]


# -- C: suspects --------------------------------------------------------------------------------


def test_c1_a_file_written_just_before_the_snapshot_is_suspect(make_stack: MakeStack, lab: NfsLab) -> None:
    stack = make_stack(fusion={"hot_window_s": 30})
    write(lab.path("c", "/fresh/just-written.dat"))
    stack.run_now("a", "snapshot")
    assert "/fresh/just-written.dat" in stack.suspect_paths()
    assert stack.node("/fresh/just-written.dat")["integrity_suspect"] is True  # type: ignore[index]


def test_c2_a_file_written_through_the_blind_mount_shortly_before_an_audit_is_suspect(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(fusion={"hot_window_s": 30})
    write(lab.path("c", "/fresh/blind.dat"))
    stack.run_now("a", "audit")
    stack.wait_node("/fresh/blind.dat", integrity_suspect=True)


def test_c3_a_suspect_leaves_the_list_once_stable_past_the_window(make_stack: MakeStack, lab: NfsLab) -> None:
    stack = make_stack(fusion={"hot_window_s": 3})
    write(lab.path("c", "/fresh/settles.dat"))
    stack.run_now("a", "audit")
    marked = stack.wait_node("/fresh/settles.dat", integrity_suspect=True)
    stack.wait(lambda: "/fresh/settles.dat" not in stack.suspect_paths(), 12, "the suspect to leave")
    node = stack.node("/fresh/settles.dat")
    assert node is not None and node["integrity_suspect"] is False and node["mtime"] == marked["mtime"]


def test_c4_a_realtime_update_clears_the_suspect_flag(make_stack: MakeStack, lab: NfsLab) -> None:
    stack = make_stack(fusion={"hot_window_s": 30})
    write(lab.path("c", "/fresh/then-seen.dat"))
    stack.run_now("a", "audit")
    stack.wait_node("/fresh/then-seen.dat", integrity_suspect=True)
    with lab.path("a", "/fresh/then-seen.dat").open("ab") as handle:
        handle.write(b"!")
    stack.wait_node("/fresh/then-seen.dat", integrity_suspect=False, size=2)
    assert "/fresh/then-seen.dat" not in stack.suspect_paths()


def test_c5_the_sentinel_reports_current_mtimes_and_keeps_a_growing_file_suspect(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(fusion={"hot_window_s": 2})
    with slow_writer(lab.path("c", "/fresh/growing.dat"), seconds=5, chunk=1024) as done:
        stack.run_now("a", "audit")
        first = stack.wait_node("/fresh/growing.dat", integrity_suspect=True)
        # no audit runs any more: only the sentinel can tell Fusion that the file keeps changing
        grown = stack.wait(
            lambda: (n := stack.node("/fresh/growing.dat")) and n["mtime"] > first["mtime"] and n,
            6,
            "a sentinel update of the growing file",
        )
        assert grown["integrity_suspect"] is True and grown["size"] > first["size"]
        assert not done.is_set()


def test_c6_a_large_file_written_slowly_through_the_blind_mount_stays_suspect_until_writes_stop(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(fusion={"hot_window_s": 2})
    target = "/fresh/large-slow.bin"
    with slow_writer(lab.path("c", target), seconds=6, every=0.3, chunk=512 * 1024) as done:
        stack.run_now("a", "audit")
        stack.wait_node(target, integrity_suspect=True)
        while not done.is_set():  # every look while the writer works finds it suspect
            assert target in stack.suspect_paths()
            done.wait(0.2)
    stack.wait(lambda: target not in stack.suspect_paths(), 15, "the finished file to leave the suspects")
    assert stack.node(target)["size"] == lab.path("c", target).stat().st_size  # type: ignore[index]


# -- D: tombstones ------------------------------------------------------------------------------


def test_d1_a_realtime_delete_creates_a_tombstone(make_stack: MakeStack, lab: NfsLab) -> None:
    write(lab.path("a", "/t/doomed.dat"))
    stack = make_stack()
    stack.wait_node("/t/doomed.dat")
    before = stack.stats()["tombstones"]
    lab.path("a", "/t/doomed.dat").unlink()
    stack.wait_gone("/t/doomed.dat")
    stack.wait(lambda: stack.stats()["tombstones"] == before + 1, 5, "a tombstone")


SNAPSHOT_RACE_D2 = [
    pytest.param((), {"tombstoned"}, id="default-rules"),
    pytest.param(("merge-tombstone",), set(), id="without-merge-tombstone-it-resurrects"),
]


@pytest.mark.parametrize(("disabled", "protected_by"), SNAPSHOT_RACE_D2)
def test_d2_a_snapshot_that_listed_the_file_before_the_delete_does_not_resurrect_it(
    make_stack: MakeStack, lab: NfsLab, disabled: tuple[str, ...], protected_by: set[str]
) -> None:
    """Only the tombstone protects a snapshot row: merge-mtime judges a snapshot row only
    against a node the tree still has, and the delete removed it."""
    paths = settled_tree(lab, "/snap", 3, 5)
    victim = paths[3]
    stack = make_stack(pausable=("a",), fusion_env={"FUSTOR_DISABLE_PLUGINS": ",".join(disabled)})
    dropped = delete_while_the_leader_scans(stack, lab, scan="snapshot", victim=victim, deleting_host="a")
    assert_the_stale_row(stack, lab, victim, dropped, protected_by, len(paths))


AUDIT_RACE_D3 = [
    pytest.param((), {"tombstoned", "parent_changed"}, id="default-rules"),
    pytest.param(("merge-mtime",), {"tombstoned"}, id="merge-tombstone-alone-protects"),
    pytest.param(("merge-tombstone", "merge-mtime"), set(), id="without-both-it-resurrects"),
]


@pytest.mark.parametrize(("disabled", "protected_by"), AUDIT_RACE_D3)
def test_d3_an_audit_that_listed_the_file_before_the_delete_does_not_resurrect_it(
    make_stack: MakeStack, lab: NfsLab, disabled: tuple[str, ...], protected_by: set[str]
) -> None:
    """As B5, but the follower's host deletes the file: its realtime event is what tombstones
    the file and refreshes the directory in Fusion while the leader's audit row is held."""
    paths = settled_tree(lab, "/aud", 3, 5)
    victim = paths[7]
    stack = make_stack(
        hosts=("a", "b"), pausable=("a",), fusion_env={"FUSTOR_DISABLE_PLUGINS": ",".join(disabled)}
    )
    list_again_at_the_next_audit(stack, lab, victim.rpartition("/")[0])
    dropped = delete_while_the_leader_scans(stack, lab, scan="audit", victim=victim, deleting_host="b")
    assert_the_stale_row(stack, lab, victim, dropped, protected_by, len(paths))


def test_d4_tombstones_expire(make_stack: MakeStack, lab: NfsLab) -> None:
    write(lab.path("a", "/t/short-lived.dat"))
    stack = make_stack(fusion={"rules": {"merge-tombstone": {"ttl_s": 1}}})
    stack.wait_node("/t/short-lived.dat")
    lab.path("a", "/t/short-lived.dat").unlink()
    stack.wait(lambda: stack.stats()["tombstones"] == 1, 5, "the tombstone")

    def audited_and_expired() -> bool:
        stack.run_now("a", "audit")  # expiry is checked at audit end
        return bool(stack.stats()["tombstones"] == 0)

    stack.wait(audited_and_expired, 15, "the tombstone to expire")


# -- E: failover --------------------------------------------------------------------------------


def test_e1_killing_the_leader_makes_the_follower_leader_within_the_session_timeout(
    make_stack: MakeStack,
) -> None:
    stack = make_stack(hosts=("a", "b"))
    stack.wait(lambda: stack.roles().get("host-b") == "follower", 5, "b to follow")
    killed_at = time.monotonic()
    stack.agents["a"].kill()
    stack.wait_leader("b", timeout=3 + 1.5)  # session timeout + a heartbeat and a tick
    assert time.monotonic() - killed_at <= 4.5


def test_e2_the_new_leader_runs_snapshot_audit_and_sentinel(make_stack: MakeStack, lab: NfsLab) -> None:
    write(lab.path("a", "/e/file.dat"))
    stack = make_stack(hosts=("a", "b"), agent={"modes": {"audit": {"interval_s": 1}}})
    assert stack.mode_runs("b", "snapshot") == 0
    stack.agents["a"].kill()
    stack.wait_leader("b", timeout=6)
    for mode in ("snapshot", "audit", "sentinel"):
        stack.wait(lambda m=mode: stack.mode_runs("b", m) >= 1, 15, f"the new leader's {mode}")
    write(lab.path("c", "/e/blind-after-failover.dat"))
    stack.wait_node("/e/blind-after-failover.dat", timeout=10, agent_missing=True)


# -- H, I: clocks -------------------------------------------------------------------------------


def test_h_mtimes_an_hour_off_the_hosts_clocks_do_not_break_suspect_or_cold_decisions(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(fusion={"hot_window_s": 60})
    now = time.time()
    behind = write(lab.path("c", "/clock/an-hour-behind.dat"))
    os.utime(behind, (now - 3600, now - 3600))
    ahead = write(lab.path("c", "/clock/an-hour-ahead.dat"))
    os.utime(ahead, (now + 3600, now + 3600))
    write(lab.path("c", "/clock/fresh.dat"))
    stack.run_now("a", "audit")
    stack.wait_node("/clock/fresh.dat", integrity_suspect=True)
    assert stack.node("/clock/an-hour-behind.dat")["integrity_suspect"] is False  # type: ignore[index]
    assert stack.node("/clock/an-hour-ahead.dat")["integrity_suspect"] is True  # type: ignore[index]
    # the future file did not drag the logical clock: fresh files written now are still hot
    write(lab.path("c", "/clock/fresh-later.dat"))
    host_a_sees(stack, lab, "/clock/fresh-later.dat")
    stack.run_now("a", "audit")
    stack.wait_node("/clock/fresh-later.dat", integrity_suspect=True)
    assert abs(stack.stats()["clock_skew_s"]) < 2


def test_i_a_file_with_an_mtime_in_the_future_is_flagged_suspect(make_stack: MakeStack, lab: NfsLab) -> None:
    stack = make_stack(fusion={"hot_window_s": 5})
    future = write(lab.path("c", "/clock/future.dat"))
    later = time.time() + 2 * 86_400
    os.utime(future, (later, later))
    stack.run_now("a", "audit")
    node = stack.wait_node("/clock/future.dat", integrity_suspect=True)
    assert node["mtime"] == later
    reasons = {e["path"]: e.get("reason") for e in stack.query("suspects")}
    assert reasons["/clock/future.dat"] == "future"


# -- R: renames ---------------------------------------------------------------------------------


def test_r1_a_directory_of_1000_files_renamed_through_a_watched_mount_is_correct_within_2s(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    make_tree(lab, "/ren/old", 1, 1000)
    stack = make_stack()
    stack.wait(lambda: (n := stack.node("/ren/old")) and n["files"] == 1000, 15, "1000 files under /ren/old")
    started = time.monotonic()
    os.rename(lab.path("a", "/ren/old"), lab.path("a", "/ren/new"))
    stack.wait(
        lambda: (n := stack.node("/ren/new")) and n["files"] == 1000 and stack.node("/ren/old") is None,
        2.0,
        "the renamed directory in Fusion",
    )
    assert time.monotonic() - started <= 2.0


def test_r2_a_directory_renamed_through_the_blind_mount_is_correct_after_the_next_audit(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    make_tree(lab, "/ren/old", 1, 1000)
    stack = make_stack()
    stack.wait(lambda: (n := stack.node("/ren/old")) and n["files"] == 1000, 15, "1000 files under /ren/old")
    os.rename(lab.path("c", "/ren/old"), lab.path("c", "/ren/new"))
    # like an NFS client, host a sees the change once its attribute cache (FUSE attr_timeout) expired;
    # an audit before that finds /ren unchanged and rightly skips it (the next one would not)
    changed = (lab.export / "ren").stat().st_mtime
    stack.wait(lambda: lab.path("a", "/ren").stat().st_mtime == changed, 5, "host a to see /ren changed")
    stack.run_now("a", "audit")
    stack.wait(
        lambda: (n := stack.node("/ren/new")) and n["files"] == 1000 and stack.node("/ren/old") is None,
        10,
        "the renamed directory after the audit",
    )

"""``fresh=true``, a sync barrier across NFS clients, on real processes in the NFS lab.

Host c has no agent: a file it rewrites in place in a settled directory changes no directory's
mtime and sends no event, so the view keeps the old size until an audit's deep slice re-stats
it (a day, by default). A tree query with ``fresh=true`` has the leader (host a) re-list that
directory now and answers once the listing is applied: it shows the new size at once, while a
plain query just before it still shows the old one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import httpx
from nfslab import NfsLab
from stack import DATASTORE, LabStack

MakeStack = Callable[..., LabStack]


def fresh(stack: LabStack, path: str, timeout: float = 10.0) -> httpx.Response:
    return stack.http.get(
        f"{stack.fusion_url}/api/v1/views/{DATASTORE}/tree",
        params={"path": path, "depth": 1, "fresh": "true", "timeout": timeout},
        headers={"X-API-Key": stack.registry.query_key},
        timeout=timeout + 10,
    )


def settled_tree(lab: NfsLab) -> None:
    """/runs/r1 with 20 files, every mtime an hour back (settled: no file is suspect)."""
    run = lab.export / "runs" / "r1"
    run.mkdir(parents=True)
    hour_ago = time.time() - 3600
    for i in range(20):
        path = run / f"part{i:02d}.dat"
        path.write_bytes(b"x" * 10)
        os.utime(path, (hour_ago, hour_ago))
    for directory in (run, run.parent, lab.export):
        os.utime(directory, (hour_ago, hour_ago))


def test_fresh_true_shows_what_a_host_without_an_agent_wrote_at_once(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    settled_tree(lab)
    stack = make_stack(hosts=("a",), agent={"modes": {"audit": {"deep_period_s": 0}}})
    stack.wait(lambda: stack.stats()["files"] == 20, 30, "the tree in Fusion")
    assert stack.node("/runs/r1/part03.dat")["integrity_suspect"] is False  # type: ignore[index]
    run_mtime = (lab.export / "runs" / "r1").stat().st_mtime

    (lab.host("c") / "runs" / "r1" / "part03.dat").write_bytes(b"y" * 4321)  # host c: no agent
    (lab.host("c") / "runs" / "r1" / "part07.dat").unlink()
    assert (lab.export / "runs" / "r1").stat().st_mtime != run_mtime  # the unlink moved it

    plain = stack.node("/runs/r1/part03.dat")
    assert plain is not None and plain["size"] == 10  # nothing told Fusion: the old size
    answer = fresh(stack, "/runs/r1")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    sizes = {child["name"]: child["size"] for child in body["children"]}
    assert sizes["part03.dat"] == 4321  # the new size, in this very answer
    assert "part07.dat" not in sizes and body["files"] == 19  # and the deletion
    assert body["fresh"]["agent_id"] == "host-a" and body["fresh"]["listed"] == "/runs/r1"
    assert body["fresh"]["files"] == 19, body["fresh"]
    assert stack.node("/runs/r1/part03.dat")["size"] == 4321  # type: ignore[index]  # the view has it now


def test_a_rewrite_that_moves_no_directory_mtime_is_found_by_fresh_on_the_file(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    """The in-place rewrite alone: the directory's mtime does not move, so only a listing that
    re-stats every file — which fresh=true is — sees it; on a file path its directory is listed."""
    settled_tree(lab)
    stack = make_stack(hosts=("a",), agent={"modes": {"audit": {"deep_period_s": 0}}})
    stack.wait(lambda: stack.stats()["files"] == 20, 30, "the tree in Fusion")
    run_mtime = (lab.export / "runs" / "r1").stat().st_mtime
    with open(lab.host("c") / "runs" / "r1" / "part05.dat", "r+b") as rewritten:
        rewritten.write(b"z" * 64)  # in place: same inode, longer, no directory change
    assert (lab.export / "runs" / "r1").stat().st_mtime == run_mtime
    stack.run_now("a", "audit")  # an ordinary audit skips the unchanged directory
    assert stack.node("/runs/r1/part05.dat")["size"] == 10  # type: ignore[index]
    answer = fresh(stack, "/runs/r1/part05.dat")
    assert answer.status_code == 200, answer.text
    assert answer.json()["size"] == 64 and answer.json()["fresh"]["listed"] == "/runs/r1"


def test_without_a_leader_fresh_true_is_a_503_that_says_so(make_stack: MakeStack, lab: NfsLab) -> None:
    settled_tree(lab)
    stack = make_stack(hosts=("a",))
    stack.agents["a"].stop()  # SIGTERM: the session is closed, nobody leads
    stack.wait(lambda: stack.stats()["leader"] is None, 10, "no leader")
    answer = fresh(stack, "/runs/r1", timeout=5)
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "no_leader"
    assert stack.node("/runs/r1/part03.dat")["size"] == 10  # type: ignore[index]  # plain queries still answer

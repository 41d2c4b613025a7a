""" "Is this upload finished?" on real processes: Fusion with the merge-completion rule, a leader
agent on the bindfs NFS lab, uploads written through the agent's host.

* With a marker glob, ``wait=complete`` answers as soon as the marker's event reached Fusion; a
  write after the marker flips the upload back.
* Without markers, a directory made by realtime waits for the leader to list it (an audit), and
  then for ``settle_s``; ``wait=complete`` answers on completion; a late write flips it back
  until it settles again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from nfslab import NfsLab
from stack import DATASTORE, LabStack, write

MakeStack = Callable[..., LabStack]


class Waiter(threading.Thread):
    """``GET tree?path=...&wait=complete`` from a client thread; ``took`` is its duration."""

    def __init__(self, stack: LabStack, path: str, timeout: float) -> None:
        super().__init__(daemon=True)
        self.url = f"{stack.fusion_url}/api/v1/views/{DATASTORE}/tree"
        self.headers = {"X-API-Key": stack.registry.query_key}
        self.params = {"path": path, "wait": "complete", "timeout": timeout}
        self.node: dict[str, Any] | None = None
        self.took = 0.0

    def run(self) -> None:
        t0 = time.monotonic()
        answer = httpx.get(self.url, params=self.params, headers=self.headers, timeout=90)
        answer.raise_for_status()
        self.node = answer.json()
        self.took = time.monotonic() - t0

    def result(self) -> dict[str, Any]:
        self.join(90)
        assert self.node is not None, "the waiting query did not answer"
        return self.node


def test_a_marker_completes_an_upload_and_a_late_write_flips_it_back(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(hosts=("a",), fusion={"rules": {"merge-completion": {"markers": ["RTAComplete.txt"]}}})
    run = lab.host("a") / "run1"
    for i in range(20):
        write(run / "Data" / f"c{i}.bcl", b"x" * i)
    stack.wait_node("/run1/Data/c19.bcl", timeout=10)
    assert stack.node("/run1")["complete"] is False  # type: ignore[index]
    waiter = Waiter(stack, "/run1", timeout=60)
    waiter.start()
    time.sleep(0.5)
    assert waiter.node is None  # still waiting: no marker yet
    marked_at = time.monotonic()
    write(run / "RTAComplete.txt", b"done")
    node = waiter.result()
    assert node["complete"] is True, node
    assert time.monotonic() - marked_at < 10
    assert stack.stats()["uploads_complete"] == 1
    time.sleep(0.05)  # a later mtime than the marker's, even on a coarse clock
    write(run / "Data" / "late.bcl", b"late")
    stack.wait_node("/run1", timeout=10, complete=False)
    assert stack.stats()["uploads_complete"] == 0
    write(run / "RTAComplete.txt", b"done again")  # the sequencer marks it again
    stack.wait_node("/run1", timeout=10, complete=True)


def test_without_markers_an_upload_completes_after_a_listing_and_settling(
    make_stack: MakeStack, lab: NfsLab
) -> None:
    stack = make_stack(hosts=("a",), fusion={"rules": {"merge-completion": {"settle_s": 1}}})
    up = lab.host("a") / "upload1"
    for i in range(20):
        write(up / "part" / f"f{i}.dat", b"y" * i)
    stack.wait_node("/upload1/part/f19.dat", timeout=10)
    waiter = Waiter(stack, "/upload1", timeout=60)
    waiter.start()
    time.sleep(3)  # settled by now, but made by realtime: nobody listed these directories yet
    assert waiter.node is None
    assert stack.node("/upload1")["complete"] is False  # type: ignore[index]
    stack.run_now("a", "audit")
    node = waiter.result()
    assert node["complete"] is True, node
    assert stack.node("/upload1/part")["complete"] is True  # type: ignore[index]
    assert stack.stats()["uploads_complete"] >= 1
    # rewriting a file in place changes no listing: it only has to settle again
    with (up / "part" / "f3.dat").open("ab") as handle:
        handle.write(b"late")
    stack.wait_node("/upload1", timeout=10, complete=False)
    again = Waiter(stack, "/upload1", timeout=60)
    again.start()
    assert again.result()["complete"] is True

"""``wait=complete`` on the tree query and the completion stats, through a real server on
127.0.0.1 with the merge-completion rule loaded next to the default rules."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from fusion_testkit import QUERY_KEY, T0, Fusion, StartFusion, error_of, event, row

import fustor_merge_completion

MARKERS = {"merge-completion": {"markers": ["RTAComplete.txt", "*.done"]}}


def start(start_fusion: StartFusion, options: dict[str, Any], **kw: Any) -> Fusion:
    return start_fusion(rules=True, extra_plugins=(fustor_merge_completion,), rule_options=options, **kw)


def upload(fusion: Fusion) -> Any:
    leader = fusion.agent().open()
    leader.send_ok(
        event(
            "snapshot",
            "insert",
            row("/", is_dir=True),
            row("/run1", is_dir=True),
            row("/run1/a.bcl", size=10),
            row("/run2", is_dir=True),
            row("/run2/b.bcl", size=10),
        )
    )
    return leader


class Waiter(threading.Thread):
    """A client waiting on ``tree?wait=complete`` in the background."""

    def __init__(self, fusion: Fusion, path: str, timeout: float) -> None:
        super().__init__(daemon=True)
        self.url, self.path, self.timeout = fusion.url, path, timeout
        self.answer: httpx.Response | None = None
        self.took = 0.0

    def run(self) -> None:
        t0 = time.monotonic()
        with httpx.Client(base_url=self.url, headers={"X-API-Key": QUERY_KEY}, timeout=30) as http:
            self.answer = http.get(
                "/api/v1/views/demo/tree",
                params={"path": self.path, "wait": "complete", "timeout": self.timeout},
            )
        self.took = time.monotonic() - t0


def test_wait_complete_answers_when_the_marker_arrives(start_fusion: StartFusion) -> None:
    fusion = start(start_fusion, MARKERS)
    leader = upload(fusion)
    waiter = Waiter(fusion, "/run1", timeout=20)
    waiter.start()
    time.sleep(0.3)  # the waiter is waiting (nothing to poll for: it must not have answered)
    assert waiter.answer is None
    leader.send_ok(event("realtime", "insert", row("/run1/RTAComplete.txt", mtime=T0)))
    waiter.join(10)
    assert waiter.answer is not None and waiter.answer.status_code == 200, waiter.answer
    node = waiter.answer.json()
    assert node["path"] == "/run1" and node["complete"] is True
    assert waiter.took < 5
    assert {c["name"]: c["complete"] for c in node["children"]} == {"RTAComplete.txt": False, "a.bcl": False}
    stats = fusion.query().ok("stats")
    assert (stats["uploads_complete"], stats["uploads_incomplete"]) == (1, 1)
    listed = fusion.query().ok("lists/complete")
    assert [entry["path"] for entry in listed] == ["/run1"] and listed[0]["how"] == "marker"


def test_wait_complete_times_out_with_the_node_as_it_stands(start_fusion: StartFusion) -> None:
    fusion = start(start_fusion, MARKERS)
    upload(fusion)
    t0 = time.monotonic()
    node = fusion.query().ok("tree", path="/run2", wait="complete", timeout=0.4)
    assert time.monotonic() - t0 >= 0.4
    assert node["complete"] is False and node["files"] == 1
    assert error_of(fusion.query().get("tree", path="/nowhere", wait="complete", timeout=0.1))[:2] == (
        404,
        "path_not_found",
    )


def test_a_late_write_flips_a_complete_upload_back(start_fusion: StartFusion) -> None:
    fusion = start(start_fusion, MARKERS)
    leader = upload(fusion)
    leader.send_ok(event("realtime", "insert", row("/run1/copy.done", mtime=T0)))
    assert fusion.query().ok("tree", path="/run1", depth=0)["complete"] is True
    leader.send_ok(event("realtime", "insert", row("/run1/late.bcl", mtime=T0 + 1)))
    assert fusion.query().ok("tree", path="/run1", depth=0)["complete"] is False
    assert fusion.query().ok("stats")["uploads_complete"] == 0


def test_without_markers_an_upload_completes_once_settled(start_fusion: StartFusion) -> None:
    fusion = start(start_fusion, {"merge-completion": {"settle_s": 30}}, clock=True, hot_window_s=5)
    leader = fusion.agent().open()
    leader.send_ok(
        event("snapshot", "insert", row("/run1", is_dir=True, mtime=T0 - 10), row("/run1/a", mtime=T0 - 10))
    )
    assert fusion.query().ok("tree", path="/run1", wait="complete", timeout=0.3)["complete"] is False
    waiter = Waiter(fusion, "/run1", timeout=20)
    waiter.start()
    assert fusion.clock is not None
    fusion.clock.advance(21)  # 31 s after the last change: settled (and long out of the hot window)
    waiter.join(10)
    assert waiter.answer is not None and waiter.answer.json()["complete"] is True
    assert fusion.query().ok("lists/complete")[0]["how"] == "settled"


def test_wait_refuses_what_it_cannot_wait_for(start_fusion: StartFusion) -> None:
    fusion = start(start_fusion, MARKERS)
    upload(fusion)
    query = fusion.query()
    assert error_of(query.get("tree", path="/run1", wait="settled"))[0] == 422
    for timeout in ("-1", "61", "nan", "soon"):
        status, _, message = error_of(query.get("tree", path="/run1", wait="complete", timeout=timeout))
        assert status == 422 and "timeout" in message
    plain = start_fusion(rules=True)  # the default rules only: nobody gives the flag
    upload(plain)
    status, _, message = error_of(plain.query().get("tree", path="/run1", wait="complete"))
    assert status == 422 and "complete" in message
    assert "complete" not in plain.query().ok("tree", path="/run1")

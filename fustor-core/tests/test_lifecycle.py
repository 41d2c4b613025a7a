"""The one lifecycle (fustor_core.lifecycle), seen through the rule harness that drives it.

Each test pins an engine behaviour a rule relies on and that the harness once did differently:
a scan's listing is recorded before any rule sees its rows; a delete event deletes, whatever its
source; a realtime row refreshes its parent's mtime; a snapshot's end removes what it did not
list; sentinel feedback is in the tree before the rules hear of it. A probe plugin registered in
code records what the hooks saw.
"""

from __future__ import annotations

from typing import Any

import pytest

from fustor_core import hookimpl
from fustor_core.arbitration import AuditRun, Batch, Changes, NodeInfo, SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.lifecycle import ViewLifecycle
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import T0, FakeView, RuleHarness


class Probe:
    """Records what each hook saw."""

    def __init__(self) -> None:
        self.seen_at_filter: list[set[str]] = []
        self.tree_at_feedback: list[NodeInfo | None] = []
        self.feedback_changes: list[Changes] = []
        self.snapshot_ended: list[list[str]] = []
        self.running_at_end: list[Any] = []

    @hookimpl
    def fustor_filter_batch(self, view: Any, batch: Batch) -> None:
        scan = view.audit or view.snapshot
        self.seen_at_filter.append(set(scan.seen.get("/d", ())) if scan is not None else set())

    @hookimpl
    def fustor_sentinel_feedback(self, view: Any, updates: list[SentinelUpdate], changes: Changes) -> None:
        self.tree_at_feedback = view.lookup([u.path for u in updates])
        self.feedback_changes.append(changes)

    @hookimpl
    def fustor_snapshot_ended(self, view: Any, scan: AuditRun, deleted: list[str]) -> None:
        self.snapshot_ended.append(deleted)
        self.running_at_end.append(view.snapshot)


@pytest.fixture
def probe() -> Probe:
    return Probe()


@pytest.fixture
def h(probe: Probe) -> RuleHarness:
    return RuleHarness(get_plugin_manager(only=[], extra=[probe]), FakeView(ArbitrationSettings()))


def test_a_scans_rows_are_in_its_listing_before_the_rules_see_them(h: RuleHarness, probe: Probe) -> None:
    h.start_audit()
    h.send("audit", "insert", h.row("/d", 1.0, is_dir=True), h.row("/d/f", 1.0))
    assert probe.seen_at_filter == [{"f"}]


def test_a_delete_event_deletes_whatever_its_source(h: RuleHarness) -> None:
    h.send("snapshot", "insert", h.row("/d/f", 1.0), h.row("/d/g", 1.0))
    h.send("audit", "delete", h.row("/d/f", 0.0))
    assert h.view.lookup(["/d/f", "/d/g"]) == [None, NodeInfo(False, 1, 1.0, 0.0)]


def test_a_realtime_row_refreshes_its_parents_mtime_but_never_ages_it(h: RuleHarness) -> None:
    h.send("snapshot", "insert", h.row("/d", 10.0, is_dir=True))
    h.send("realtime", "insert", h.row("/d/f", 50.0, parent_path="/d", parent_mtime=50.0))
    assert h.view.lookup(["/d"])[0] == NodeInfo(True, 1, 50.0, 0.0)
    h.send("realtime", "delete", h.row("/d/f", 0.0, parent_path="/d", parent_mtime=20.0))
    assert h.view.lookup(["/d"])[0] == NodeInfo(True, 1, 50.0, 0.0), "an older parent mtime is ignored"


def test_a_snapshots_end_removes_what_its_full_listings_did_not_contain(h: RuleHarness, probe: Probe) -> None:
    h.send("realtime", "insert", h.row("/d/kept", 1.0), h.row("/d/gone", 1.0), h.row("/e/unlisted", 1.0))
    h.start_snapshot()
    h.send("snapshot", "insert", h.row("/d", 1.0, is_dir=True), h.row("/d/kept", 1.0))
    h.send("snapshot", "insert", h.row("/e", 1.0, is_dir=True, audit_skipped=True))
    assert h.end_snapshot() == ["/d/gone"]
    assert probe.snapshot_ended == [["/d/gone"]]
    assert probe.running_at_end == [None], "the scan is over when its end hooks run"
    assert h.view.lookup(["/d/kept", "/d/gone", "/e/unlisted"])[1] is None


def test_sentinel_feedback_is_in_the_tree_before_the_rules_hear_of_it(h: RuleHarness, probe: Probe) -> None:
    h.send("realtime", "insert", h.row("/f", 1.0), h.row("/gone", 1.0), h.row("/same", 1.0))
    changes = h.sentinel_feedback(
        SentinelUpdate("/f", True, 2.0, 9),
        SentinelUpdate("/gone", False),
        SentinelUpdate("/same", True, 1.0, 1),
    )
    assert probe.tree_at_feedback == [NodeInfo(False, 9, 2.0, T0), None, NodeInfo(False, 1, 1.0, T0)]
    assert (list(changes.upserted), changes.deleted) == ([0], ["/gone"])
    assert probe.feedback_changes == [changes]


def test_an_end_without_its_start_is_ignored_and_says_so(
    h: RuleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    lifecycle = ViewLifecycle(h.view, h.hook)
    lifecycle.start_scan("audit", "leader-1")
    assert lifecycle.end_scan("audit", "someone-else") is None
    assert h.view.audit is not None, "the leader's audit still runs"
    assert "audit end without a matching audit start" in caplog.text
    with pytest.raises(AssertionError, match="no snapshot is running"):
        h.end_snapshot()

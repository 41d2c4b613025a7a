"""The mtime rule driven hook by hook on a fake view (no Fusion engine involved)."""

from __future__ import annotations

from fustor_core.testing import MakeRuleHarness

PLUGIN = "merge-mtime"


def test_realtime_rows_are_never_dropped_even_when_older_than_the_tree(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", 200.0))
    batch = h.send("realtime", "update", h.row("/f", 100.0))
    assert batch.dropped == {} and batch.skipped == set()
    assert h.view.store.nodes["/f"].mtime == 100.0


def test_snapshot_row_older_than_the_tree_is_dropped_equal_is_skipped_newer_is_written(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/old", 200.0), h.row("/same", 200.0, size=7), h.row("/new", 200.0))
    batch = h.send(
        "snapshot",
        "insert",
        h.row("/old", 150.0),
        h.row("/same", 200.0, size=7),
        h.row("/new", 250.0),
        h.row("/absent", 1.0),
    )
    assert batch.dropped == {0: "older_than_tree"}
    assert batch.skipped == {1}
    assert list(batch.to_write()) == [2, 3]


def test_snapshot_row_with_same_mtime_but_other_size_is_written(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", 200.0, size=1))
    batch = h.send("snapshot", "insert", h.row("/f", 200.0, size=2))
    assert list(batch.to_write()) == [0]


def test_audit_row_for_a_known_file_is_accepted_only_when_newer(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/older", 200.0), h.row("/equal", 200.0), h.row("/newer", 200.0))
    batch = h.send("audit", "insert", h.row("/older", 199.0), h.row("/equal", 200.0), h.row("/newer", 201.0))
    assert batch.dropped == {0: "older_than_tree"}
    assert batch.skipped == {1}
    assert list(batch.to_write()) == [2]


def test_audit_row_is_dropped_when_the_parent_changed_after_the_scan_listed_it(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d", 300.0, is_dir=True))
    batch = h.send(
        "audit",
        "insert",
        h.row("/d/gone", 100.0, parent_path="/d", parent_mtime=250.0),
        h.row("/d/there", 100.0, parent_path="/d", parent_mtime=300.0),
        h.row("/d/unknown_parent_time", 100.0, parent_path="/d"),
        h.row("/e/f", 100.0, parent_path="/e", parent_mtime=1.0),
    )
    assert batch.dropped == {0: "parent_changed"}
    assert list(batch.to_write()) == [1, 2, 3]


def test_parent_check_does_not_apply_to_files_the_tree_already_has(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d", 300.0, is_dir=True), h.row("/d/f", 100.0))
    batch = h.send("audit", "insert", h.row("/d/f", 120.0, parent_path="/d", parent_mtime=250.0))
    assert list(batch.to_write()) == [0]


def test_audit_keeps_a_node_that_realtime_confirmed_after_the_audit_started(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "insert", h.row("/confirmed_before", 1.0))
    h.send("snapshot", "insert", h.row("/never_confirmed", 1.0))
    h.start_audit()
    h.view.clock.t += 5
    h.send("realtime", "insert", h.row("/copied_with_old_mtime", 1.0))
    candidates = h.offer_missing(["/confirmed_before", "/never_confirmed", "/copied_with_old_mtime"])
    assert candidates.kept == {"/copied_with_old_mtime": "confirmed_after_audit_start"}
    assert candidates.to_delete() == ["/confirmed_before", "/never_confirmed"]

"""The tombstone rule driven hook by hook on a fake view (no Fusion engine involved)."""

from __future__ import annotations

import pytest

from fustor_core.errors import ConfigError
from fustor_core.testing import MakeRuleHarness

PLUGIN = "merge-tombstone"


def test_realtime_delete_leaves_a_tombstone_stamped_in_both_clocks(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d/f", 100.0))
    h.view.clock.skew = -50.0
    h.send("realtime", "delete", h.row("/d/f", 0.0))

    record = h.view.get_list("tombstones").get("/d/f")
    # the moment of the delete in the storage's frame, with the watermark's uncertainty
    moment = h.view.clock.watermark() + h.view.settings.future_tolerance_s
    assert record == {"deleted_at": h.view.clock.now(), "mtime": moment}
    assert h.stats() == {"tombstones": 1, "tombstones_evicted": 0}


def test_a_delete_of_a_path_the_tree_never_had_is_still_tombstoned(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/not/yet/sent", 0.0))
    assert "/not/yet/sent" in h.view.get_list("tombstones")


def test_stale_snapshot_row_is_dropped_as_tombstoned(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    stale = h.view.clock.watermark() - 10
    batch = h.send("snapshot", "insert", h.row("/f", stale), h.row("/other", stale))
    assert batch.dropped == {0: "tombstoned"}
    assert "/f" not in h.view.store.nodes
    assert "/other" in h.view.store.nodes


def test_row_exactly_as_old_as_the_delete_is_still_stale(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    batch = h.send("audit", "insert", h.row("/f", h.view.clock.watermark()))
    assert batch.dropped == {0: "tombstoned"}


def test_newer_file_under_a_deleted_name_is_accepted_and_clears_the_tombstone(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    after_the_delete = h.view.clock.watermark() + h.view.settings.future_tolerance_s + 1
    batch = h.send("snapshot", "insert", h.row("/f", after_the_delete))
    assert batch.dropped == {}
    assert "/f" not in h.view.get_list("tombstones")


def test_rows_below_a_deleted_directory_are_dropped_unless_newer(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/d", 0.0, is_dir=True))
    deleted_at = h.view.clock.watermark()
    batch = h.send(
        "audit",
        "insert",
        h.row("/d/old/f", deleted_at - 5),
        h.row("/d/new", deleted_at + 5),
        h.row("/e", 1.0),
    )
    assert batch.dropped == {0: "tombstoned"}
    assert "/d" in h.view.get_list("tombstones"), "a new child does not vouch for the deleted ones"


def test_a_later_parent_delete_outdates_a_row_newer_than_its_own_tombstone(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/d/f", 0.0))
    first = h.view.clock.watermark()
    h.view.clock.t += 100
    h.send("realtime", "delete", h.row("/d", 0.0, is_dir=True))
    batch = h.send("snapshot", "insert", h.row("/d/f", first + 50))
    assert batch.dropped == {0: "tombstoned"}
    assert "/d/f" in h.view.get_list("tombstones")


def test_deleted_file_with_a_future_mtime_still_outdates_its_stale_rows(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    future = h.view.clock.watermark() + 86_400
    h.send("snapshot", "insert", h.row("/f", future))
    h.send("realtime", "delete", h.row("/f", 0.0))
    batch = h.send("snapshot", "insert", h.row("/f", future))
    assert batch.dropped == {0: "tombstoned"}


def test_realtime_rows_are_never_dropped_and_insert_clears_the_tombstone(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    batch = h.send("realtime", "insert", h.row("/f", 1.0))
    assert batch.dropped == {}
    assert "/f" not in h.view.get_list("tombstones")
    assert h.stats() == {"tombstones": 0, "tombstones_evicted": 0}


def test_audit_does_not_delete_a_node_realtime_deleted_after_it_started(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/a", 1.0), h.row("/b", 1.0), h.row("/c", 1.0))
    tombstones = h.view.get_list("tombstones")
    tombstones.put("/c", deleted_at=h.view.clock.now(), mtime=0.0)  # deleted before the audit
    h.view.clock.t += 1
    h.start_audit()
    h.view.clock.t += 1
    tombstones.put("/a", deleted_at=h.view.clock.now(), mtime=0.0)  # deleted while it ran
    candidates = h.offer_missing(["/a", "/b", "/c"])
    assert candidates.kept == {"/a": "tombstoned"}
    assert candidates.to_delete() == ["/b", "/c"]


def test_a_realtime_row_under_a_directory_deleted_in_realtime_is_dropped(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d", 1.0, is_dir=True), h.row("/d/f", 1.0))
    h.send("realtime", "delete", h.row("/d", 0.0, is_dir=True))
    late = h.send("realtime", "update", h.row("/d/f", 2.0), h.row("/e", 2.0))
    assert late.dropped == {0: "parent_deleted"}


def test_tombstone_expires_on_the_tick_once_older_than_its_ttl(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    h.view.clock.t += 3600
    h.tick()
    assert "/f" in h.view.get_list("tombstones"), "not before the TTL has passed"
    h.view.clock.t += 1
    h.tick()
    assert "/f" not in h.view.get_list("tombstones"), "no audit needed: the tick expires it"


@pytest.mark.parametrize("scan", ["audit", "snapshot"])
def test_a_scan_that_started_before_the_delete_holds_the_tombstone_until_it_ends(
    rule_harness: MakeRuleHarness, scan: str
) -> None:
    h = rule_harness(PLUGIN)
    start, end = (h.start_audit, h.end_audit) if scan == "audit" else (h.start_snapshot, h.end_snapshot)
    start()  # listed the directory before the delete: its stale rows may still come
    h.view.clock.t += 5
    h.send("realtime", "delete", h.row("/f", 0.0))
    h.view.clock.t += 2 * 3600
    h.tick()
    assert "/f" in h.view.get_list("tombstones")
    stale = h.send("snapshot" if scan == "snapshot" else "audit", "insert", h.row("/f", 1.0))
    assert stale.dropped == {0: "tombstoned"}
    end()
    h.tick()
    assert "/f" not in h.view.get_list("tombstones")


def test_a_scan_that_started_after_the_delete_does_not_hold_an_old_tombstone(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    h.view.clock.t += 10
    h.start_audit()
    h.view.clock.t += 3600
    h.tick()
    assert "/f" not in h.view.get_list("tombstones")


def test_tombstone_younger_than_its_ttl_survives_an_audit(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("realtime", "delete", h.row("/f", 0.0))
    h.view.clock.t += 3000
    h.start_audit()
    h.end_audit()
    h.tick()
    assert "/f" in h.view.get_list("tombstones")


def test_the_tombstone_list_is_bounded_and_evicts_the_oldest_deletes(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN, options={"merge-tombstone": {"max_entries": 32}})
    for i in range(50):
        h.send("realtime", "delete", h.row(f"/d/f{i:02}", 0.0))
        h.view.clock.t += 1
    tombstones = h.view.get_list("tombstones")
    assert len(tombstones) <= 32
    assert h.stats()["tombstones_evicted"] == 50 - len(tombstones)
    assert "/d/f49" in tombstones and "/d/f00" not in tombstones
    stale = h.send("snapshot", "insert", h.row("/d/f00", 1.0), h.row("/d/f49", 1.0))
    assert stale.dropped == {1: "tombstoned"}, "an evicted tombstone no longer protects"


def test_the_ttl_is_the_rules_own_option(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN, options={PLUGIN: {"ttl_s": 60}})
    h.send("realtime", "delete", h.row("/f", 0.0))
    h.view.clock.t += 61
    h.tick()
    assert "/f" not in h.view.get_list("tombstones"), "ttl_s: 60 expires it after a minute, not an hour"


def test_a_bad_option_is_refused_naming_its_key(rule_harness: MakeRuleHarness) -> None:
    with pytest.raises(
        ConfigError, match=r"rules\.merge-tombstone\.ttl_s: Input should be greater than or equal to 0"
    ):
        rule_harness(PLUGIN, options={PLUGIN: {"ttl_s": -1}})
    with pytest.raises(ConfigError, match=r"rules\.merge-tombstone\.ttl: Extra inputs are not permitted"):
        rule_harness(PLUGIN, options={PLUGIN: {"ttl": 5}})

"""The blind-spot rule driven hook by hook on a fake view (no Fusion engine involved)."""

from __future__ import annotations

from typing import Any

from fustor_core.arbitration import SentinelUpdate
from fustor_core.testing import MakeRuleHarness
from fustor_core.testing import RuleHarness as Harness

PLUGIN = "merge-blindspot"


def additions(h: Harness) -> Any:
    return h.view.get_list("blind_spot_additions")


def deletions(h: Harness) -> Any:
    return h.view.get_list("blind_spot_deletions")


def test_audit_row_for_an_unknown_file_is_a_blind_spot_addition(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/x", 123.0, size=5))
    assert additions(h).page() == [{"path": "/x", "mtime": 123.0, "size": 5, "found_at": h.view.clock.now()}]
    assert h.flags()["agent_missing"]("/x") is True
    assert h.stats() == {
        "blind_spot_additions": 1,
        "blind_spot_deletions": 0,
        "has_blind_spot": True,
        "blind_spot_additions_evicted": 0,
        "blind_spot_deletions_evicted": 0,
    }


def test_audit_row_newer_than_a_known_file_is_a_blind_spot_modification(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", 100.0))
    h.send("audit", "update", h.row("/f", 200.0))
    assert "/f" in additions(h)


def test_new_directory_is_an_addition_but_a_known_directory_with_a_new_mtime_is_not(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/known", 100.0, is_dir=True))
    h.send("audit", "insert", h.row("/known", 200.0, is_dir=True), h.row("/fresh", 200.0, is_dir=True))
    assert list(additions(h)) == ["/fresh"]


def test_snapshot_rows_are_not_blind_spot_additions(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", 100.0))
    assert h.stats()["has_blind_spot"] is False


def test_realtime_event_clears_a_blind_spot_addition(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/x", 1.0), h.row("/y", 1.0))
    h.send("realtime", "update", h.row("/x", 2.0))
    assert list(additions(h)) == ["/y"]


def test_realtime_delete_of_a_directory_clears_the_additions_below_it(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/d", 1.0, is_dir=True), h.row("/d/x", 1.0), h.row("/dx", 1.0))
    h.send("realtime", "delete", h.row("/d", 0.0))
    assert list(additions(h)) == ["/dx"]


def test_audit_end_records_deleted_paths_as_blind_spot_deletions(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d", 1.0, is_dir=True), h.row("/f", 1.0))
    h.send("audit", "insert", h.row("/d/x", 1.0))
    h.start_audit()
    h.send("audit", "insert", h.row("/", 1.0, is_dir=True))  # the root listed: /d and /f are gone
    h.view.clock.t += 7
    assert h.end_audit() == ["/d", "/f"]
    assert deletions(h).page() == [
        {"path": "/d", "deleted_at": h.view.clock.now()},
        {"path": "/f", "deleted_at": h.view.clock.now()},
    ]
    assert len(additions(h)) == 0, "the deleted directory took its blind-spot addition with it"
    assert h.stats()["has_blind_spot"] is True


def test_blind_spot_deletion_clears_when_a_scan_or_realtime_shows_the_path_again(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/a", 1.0), h.row("/b", 1.0), h.row("/c", 1.0))
    h.start_audit()
    h.send("audit", "insert", h.row("/", 1.0, is_dir=True))
    assert h.end_audit() == ["/a", "/b", "/c"]
    h.send("snapshot", "insert", h.row("/a", 1.0))
    h.send("audit", "insert", h.row("/b", 1.0))
    h.send("realtime", "insert", h.row("/c", 1.0))
    assert len(deletions(h)) == 0
    assert list(additions(h)) == ["/b"], "only the audit's rediscovery counts as an addition"


def test_new_leader_session_starts_discovery_afresh(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/gone", 1.0))
    h.send("audit", "insert", h.row("/x", 1.0))
    h.start_audit()
    h.send("audit", "insert", h.row("/", 1.0, is_dir=True), h.row("/x", 1.0))
    assert h.end_audit() == ["/gone"]
    h.leader_session("s2")
    stats = h.stats()
    assert (stats["blind_spot_additions"], stats["blind_spot_deletions"], stats["has_blind_spot"]) == (
        0,
        0,
        False,
    )


def test_sentinel_finding_a_file_gone_clears_its_addition(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/x", 1.0), h.row("/y", 1.0))
    h.sentinel_feedback(SentinelUpdate("/x", exists=False))  # the engine deletes it first
    assert list(additions(h)) == ["/y"]


def test_additions_and_deletions_expire_on_the_tick_after_their_ttl(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN, options={"merge-blindspot": {"ttl_s": 100}})
    h.send("snapshot", "insert", h.row("/gone", 1.0))
    h.send("audit", "insert", h.row("/x", 1.0))
    h.start_audit()
    h.send("audit", "insert", h.row("/", 1.0, is_dir=True), h.row("/x", 1.0))
    assert h.end_audit() == ["/gone"]
    h.view.clock.t += 50
    h.send("audit", "insert", h.row("/y", 1.0))
    h.view.clock.t += 50
    h.tick()
    assert (list(additions(h)), list(deletions(h))) == (["/x", "/y"], ["/gone"]), "not before the TTL"
    h.view.clock.t += 1
    h.tick()
    assert (list(additions(h)), list(deletions(h))) == (["/y"], [])
    assert h.flags()["agent_missing"]("/x") is False
    h.view.clock.t += 50
    h.tick()
    assert h.stats()["has_blind_spot"] is False


def test_each_blind_spot_list_is_bounded_and_evicts_the_oldest(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN, options={"merge-blindspot": {"max_entries": 32}})
    for i in range(40):
        h.send("audit", "insert", h.row(f"/d/f{i:02}", 1.0))
        h.view.clock.t += 1
    assert len(additions(h)) <= 32
    assert h.stats()["blind_spot_additions_evicted"] == 40 - len(additions(h))
    assert "/d/f39" in additions(h) and "/d/f00" not in additions(h)


def test_the_default_ttl_is_a_day(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/new", 1.0))
    h.view.clock.t += 86_400
    h.tick()
    assert list(additions(h)) == ["/new"]
    h.view.clock.t += 1
    h.tick()
    assert list(additions(h)) == []

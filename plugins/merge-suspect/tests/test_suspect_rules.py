"""The suspect rule driven hook by hook on a fake view (no Fusion engine involved).

Default settings: hot window 600 s (so the suspect TTL is 600 s), future tolerance 2 s.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from fustor_core.arbitration import SentinelUpdate
from fustor_core.testing import MakeRuleHarness
from fustor_core.testing import RuleHarness as Harness
from fustor_merge_suspect import hooks

PLUGIN = "merge-suspect"


def suspects(h: Harness) -> Any:
    return h.view.get_list("suspects")


def test_hot_snapshot_file_is_marked_suspect_with_its_mtime_and_ttl(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    now = h.view.clock.now()
    h.send(
        "snapshot",
        "insert",
        h.row("/hot", now - 60),
        h.row("/cold", now - 3600),
        h.row("/d", now, is_dir=True),
    )
    assert suspects(h).page() == [
        {"path": "/hot", "mtime": now - 60, "marked_at": now, "expires_at": now + 600, "reason": "hot"}
    ]
    assert h.flags()["integrity_suspect"]("/hot") is True
    assert h.flags()["integrity_suspect"]("/cold") is False
    assert h.stats() == {"suspects": 1, "suspects_evicted": 0}


def test_hot_audit_file_is_marked_suspect(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("audit", "insert", h.row("/hot", h.view.clock.now() - 1))
    assert "/hot" in suspects(h)


def test_hot_is_judged_by_the_watermark_not_by_fusions_wall_clock(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.view.clock.skew = -3600.0  # the storage's clock runs an hour behind Fusion's
    mtime = h.view.clock.now() - 3600 - 60  # written a minute ago by the storage's clock
    h.send("snapshot", "insert", h.row("/f", mtime))
    assert "/f" in suspects(h)


def test_file_with_a_future_mtime_is_suspect_even_when_reported_in_realtime(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    future = h.view.clock.watermark() + 86_400
    h.send("snapshot", "insert", h.row("/s", future))
    h.send("realtime", "insert", h.row("/r", future))
    assert suspects(h).get("/s")["reason"] == "future"
    assert suspects(h).get("/r")["reason"] == "future"


def test_realtime_event_releases_a_suspect(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    now = h.view.clock.now()
    h.send("snapshot", "insert", h.row("/f", now - 1), h.row("/g", now - 1))
    h.send("realtime", "update", h.row("/f", now))
    assert "/f" not in suspects(h)
    assert "/g" in suspects(h)


def test_realtime_delete_of_a_directory_releases_the_suspects_below_it(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    now = h.view.clock.now()
    h.send("snapshot", "insert", h.row("/d", now, is_dir=True), h.row("/d/a/f", now), h.row("/dx/f", now))
    h.send("realtime", "delete", h.row("/d", 0.0))  # the event does not say it was a directory
    assert list(suspects(h)) == ["/dx/f"]


def test_rescan_with_the_same_mtime_does_not_extend_the_ttl_but_a_new_mtime_renews_it(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    first = clock.now()
    h.send("snapshot", "insert", h.row("/f", first - 1))
    clock.t += 100
    h.send("audit", "insert", h.row("/f", first - 1))
    assert suspects(h).get("/f")["expires_at"] == first + 600
    h.send("audit", "insert", h.row("/f", clock.now()))
    record = suspects(h).get("/f")
    assert record["expires_at"] == clock.now() + 600
    assert record["mtime"] == clock.now()
    assert record["marked_at"] == first


def test_scan_reporting_a_cold_mtime_releases_the_suspect(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", h.view.clock.now()))
    h.send("audit", "update", h.row("/f", h.view.clock.now() - 7200))
    assert "/f" not in suspects(h)


def test_suspect_stays_until_its_ttl_passes_then_leaves_if_stable(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", h.view.clock.now()))
    h.view.clock.t += 599
    h.tick()
    assert "/f" in suspects(h)
    h.view.clock.t += 1
    h.tick()
    assert "/f" not in suspects(h)


def test_suspect_whose_mtime_still_changes_is_renewed_at_expiry(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    h.send("snapshot", "insert", h.row("/f", clock.now()))
    clock.t += 600
    h.view.store.nodes["/f"] = h.view.store.nodes["/f"]._replace(mtime=clock.now() - 5)
    h.tick()
    record = suspects(h).get("/f")
    assert record["mtime"] == clock.now() - 5
    assert record["expires_at"] == clock.now() + 600


def test_expired_suspect_that_changed_but_cooled_down_is_released(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    h.send("snapshot", "insert", h.row("/f", clock.now()))
    clock.t += 5000
    h.view.store.nodes["/f"] = h.view.store.nodes["/f"]._replace(mtime=clock.now() - 4000)
    h.tick()
    assert "/f" not in suspects(h)


def test_expired_suspect_whose_node_is_gone_is_released(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/f", h.view.clock.now()))
    del h.view.store.nodes["/f"]
    h.view.clock.t += 600
    h.tick()
    assert len(suspects(h)) == 0


def test_sentinel_tasks_are_the_suspects_that_expire_first(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    for name in ("c", "a", "b"):
        h.send("snapshot", "insert", h.row(f"/{name}", clock.now()))
        clock.t += 1
    assert h.sentinel_tasks(limit=2) == ["/c", "/a"]
    assert h.sentinel_tasks(limit=0) == []


def test_sentinel_feedback_renews_a_still_changing_file_and_clears_gone_or_cold_ones(
    rule_harness: MakeRuleHarness,
) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    t = clock.now()
    h.send("snapshot", "insert", *(h.row(p, t - 1) for p in ("/same", "/changing", "/gone", "/cooled")))
    clock.t += 30
    h.sentinel_feedback(
        SentinelUpdate("/same", True, t - 1, 1),
        SentinelUpdate("/changing", True, clock.now(), 9),
        SentinelUpdate("/gone", False),
        SentinelUpdate("/cooled", True, t - 7200, 1),
        SentinelUpdate("/never_listed", True, clock.now(), 1),
    )
    assert sorted(suspects(h)) == ["/changing", "/same"]
    assert suspects(h).get("/same")["expires_at"] == t + 600, "unchanged: the TTL decides"
    assert suspects(h).get("/changing")["expires_at"] == clock.now() + 600


def test_audit_deletions_release_their_suspects(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    h.send("snapshot", "insert", h.row("/d/f", h.view.clock.now()), h.row("/g", h.view.clock.now()))
    h.start_audit()
    h.send("audit", "insert", h.row("/d", h.view.clock.now(), is_dir=True))  # /d listed, without f
    assert h.end_audit() == ["/d/f"]
    assert list(suspects(h)) == ["/g"]


def test_expiry_order_survives_edits_through_the_plain_pathlist_api(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness(PLUGIN)
    clock = h.view.clock
    listed = suspects(h)
    for i in range(3000):
        listed.put(
            f"/f{i}", mtime=clock.now(), marked_at=clock.now(), expires_at=clock.now() + i, reason="hot"
        )
    listed.discard_under("/f1")  # another plugin edits the list directly
    listed.put("/f2", mtime=clock.now(), marked_at=clock.now(), expires_at=clock.now() - 1, reason="hot")
    assert listed.due(clock.now() + 2) == ["/f2", "/f0"]


def test_a_fresh_upload_is_marked_and_settled_a_bounded_number_per_tick(
    rule_harness: MakeRuleHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = rule_harness(PLUGIN)
    monkeypatch.setattr(hooks, "SETTLED_PER_TICK", 40)
    now = h.view.clock.now()
    h.send("snapshot", "insert", *(h.row(f"/up/d{i % 3}/f{i}", now - 1) for i in range(100)))
    assert len(suspects(h)) == 100
    h.view.clock.t += 600
    h.tick()
    assert len(suspects(h)) == 60, "a tick settles at most SETTLED_PER_TICK expired suspects"
    h.tick()
    h.tick()
    assert len(suspects(h)) == 0


def test_the_suspect_list_is_bounded_and_evicts_the_suspects_nearest_their_ttl(
    rule_harness: MakeRuleHarness, caplog: pytest.LogCaptureFixture
) -> None:
    h = rule_harness(PLUGIN, options={"merge-suspect": {"max_entries": 64}})
    clock = h.view.clock
    for i in range(100):
        h.send("snapshot", "insert", h.row(f"/d/f{i:03}", clock.now()))
        clock.t += 1
    listed = suspects(h)
    assert len(listed) <= 64
    assert h.stats()["suspects_evicted"] == 100 - len(listed)
    assert "/d/f099" in listed and "/d/f000" not in listed, "the oldest go first"
    with caplog.at_level(logging.WARNING):
        h.tick()
        h.tick()
    assert [r.getMessage() for r in caplog.records] == ["list bound reached: oldest entries evicted"]


def test_the_ttl_defaults_to_the_hot_window_and_is_the_rules_own_option(
    rule_harness: MakeRuleHarness,
) -> None:
    default = rule_harness(PLUGIN)
    configured = rule_harness(PLUGIN, options={PLUGIN: {"ttl_s": 30}})
    for h in (default, configured):
        h.send("snapshot", "insert", h.row("/f", h.view.clock.now()))
    now = default.view.clock.now()
    assert suspects(default).get("/f")["expires_at"] == now + default.view.settings.hot_window_s
    assert suspects(configured).get("/f")["expires_at"] == now + 30

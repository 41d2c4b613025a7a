"""Each rule plugin is what provides its behaviour: without it the engine still runs, and the
protection it adds is gone. Every scenario runs twice — all default rules, then one left out."""

from __future__ import annotations

from typing import Any

from fustor_core.arbitration import SentinelUpdate

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)
MakeFeed = Any

OLD = 1_000_000.0
RULES = ("merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot")


def stale_snapshot_after_realtime_delete(feed: Feed) -> bool:
    """Does the file exist after a snapshot row older than its realtime delete?"""
    feed.snapshot(feed.file("/d/f", OLD))
    feed.realtime_delete("/d/f")
    feed.snapshot(feed.file("/d/f", OLD))
    return feed.exists("/d/f")


def audit_row_listed_before_its_directory_changed(feed: Feed) -> bool:
    """Does a file survive whose only evidence is an audit row listed before its directory
    changed (it was created and deleted on a host without agent)?"""
    feed.snapshot(feed.dir("/d", OLD))
    feed.audit_start()
    feed.clock.t += 1
    feed.realtime("insert", feed.file("/d/sibling", OLD + 60, parent_mtime=OLD + 60))
    feed.audit(feed.dir("/d", OLD), feed.file("/d/ghost", OLD - 10, parent_mtime=OLD))
    feed.audit_end()
    return feed.exists("/d/ghost")


def hot_file_is_flagged(feed: Feed) -> bool:
    feed.snapshot(feed.file("/up/f", feed.view.clock.watermark() - 10))
    return feed.flag("/up/f", "integrity_suspect")


def audit_discovery_is_flagged(feed: Feed) -> bool:
    feed.snapshot(feed.dir("/d", OLD))
    feed.full_audit(feed.dir("/d", OLD + 1), feed.file("/d/new", OLD + 1, parent_mtime=OLD + 1))
    return feed.flag("/d/new", "agent_missing") and feed.stat("has_blind_spot")


def test_without_merge_tombstone_a_stale_snapshot_row_brings_a_deleted_file_back(make_feed: MakeFeed) -> None:
    assert stale_snapshot_after_realtime_delete(make_feed()) is False
    without = make_feed(exclude=["merge-tombstone"])
    assert stale_snapshot_after_realtime_delete(without) is True
    assert without.stat("tombstones") == 0


def test_without_merge_mtime_an_outdated_audit_row_re_adds_a_deleted_file(make_feed: MakeFeed) -> None:
    assert audit_row_listed_before_its_directory_changed(make_feed()) is False
    assert audit_row_listed_before_its_directory_changed(make_feed(exclude=["merge-mtime"])) is True


def test_without_merge_suspect_hot_files_carry_no_suspect_flag(make_feed: MakeFeed) -> None:
    assert hot_file_is_flagged(make_feed()) is True
    without = make_feed(exclude=["merge-suspect"])
    assert hot_file_is_flagged(without) is False
    assert without.view.suspects() == [] and without.stat("suspects") == 0
    assert without.view.sentinel_tasks(limit=10) == []


def test_without_merge_blindspot_audit_discoveries_are_not_flagged(make_feed: MakeFeed) -> None:
    assert audit_discovery_is_flagged(make_feed()) is True
    without = make_feed(exclude=["merge-blindspot"])
    assert audit_discovery_is_flagged(without) is False
    assert without.view.blind_spots() == {"additions": [], "deletions": []}


def test_engine_runs_every_lifecycle_call_with_no_merge_rule_at_all(make_feed: MakeFeed) -> None:
    bare = make_feed(exclude=RULES)
    bare.snapshot(bare.dir("/d", OLD), bare.file("/d/a", OLD), bare.file("/d/b", OLD))
    bare.realtime_delete("/d/a")
    assert bare.snapshot(bare.file("/d/a", OLD)).accepted == 1, "nothing drops rows any more"
    assert bare.full_audit(bare.dir("/d", OLD), bare.file("/d/a", OLD, parent_mtime=OLD)) == ["/d/b"]
    bare.view.leader_session("s2")
    bare.view.tick()
    assert bare.view.sentinel_tasks(limit=5) == []
    bare.sentinel(SentinelUpdate("/d/a", False))
    assert not bare.exists("/d/a")
    stats = bare.view.stats()
    assert (stats["suspects"], stats["tombstones"], stats["has_blind_spot"]) == (0, 0, False)

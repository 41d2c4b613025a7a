"""Suspects through the engine: hot files are flagged until they are seen to be stable.

Default settings: hot window 600 s, so the suspect TTL is 600 s too.
"""

from __future__ import annotations

from typing import Any

from fustor_core.arbitration import SentinelUpdate

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)


def hot_file(feed: Feed, path: str = "/up/f", age_s: float = 60.0) -> float:
    """A snapshot reports ``path`` written ``age_s`` ago (logical clock); returns its mtime."""
    mtime = feed.view.clock.watermark() - age_s
    feed.snapshot(feed.file(path, mtime))
    return mtime


def test_hot_snapshot_file_is_suspect(feed: Feed) -> None:
    mtime = hot_file(feed)
    assert feed.flag("/up/f", "integrity_suspect") is True
    assert feed.view.suspects() == [
        {
            "path": "/up/f",
            "mtime": mtime,
            "marked_at": feed.clock.t,
            "expires_at": feed.clock.t + 600,
            "reason": "hot",
        }
    ]
    assert feed.stat("suspects") == 1


def test_cold_snapshot_file_is_not_suspect(feed: Feed) -> None:
    hot_file(feed, age_s=601)
    assert feed.flag("/up/f", "integrity_suspect") is False
    assert feed.suspects() == []


def test_hot_audit_file_is_suspect_and_a_blind_spot_addition(feed: Feed) -> None:
    now = feed.view.clock.watermark()
    feed.full_audit(feed.dir("/up", now - 5), feed.file("/up/new", now - 5, parent_mtime=now - 5))
    assert feed.suspects() == ["/up/new"]
    assert feed.flag("/up/new", "agent_missing") is True


def test_suspect_stays_until_its_ttl_then_clears_when_its_mtime_is_stable(feed: Feed) -> None:
    hot_file(feed)
    feed.clock.t += 599
    feed.view.tick()
    assert feed.suspects() == ["/up/f"]
    feed.clock.t += 1
    feed.view.tick()
    assert feed.suspects() == []
    assert feed.flag("/up/f", "integrity_suspect") is False


def test_suspect_is_renewed_while_its_mtime_is_still_changing(feed: Feed) -> None:
    hot_file(feed)
    feed.clock.t += 300
    still_written = feed.view.clock.watermark() - 1
    feed.full_audit(
        feed.dir("/up", still_written), feed.file("/up/f", still_written, parent_mtime=still_written)
    )
    feed.clock.t += 300  # the first TTL is over, but the file changed meanwhile
    feed.view.tick()
    assert feed.suspects() == ["/up/f"]
    assert feed.view.suspects()[0]["mtime"] == still_written
    feed.clock.t += 300  # now stable for a whole TTL
    feed.view.tick()
    assert feed.suspects() == []


def test_scan_reporting_an_mtime_that_is_no_longer_hot_clears_the_suspect(feed: Feed) -> None:
    hot_file(feed)
    feed.clock.t += 700
    feed.snapshot(feed.file("/up/f", feed.view.clock.watermark() - 700))
    assert feed.suspects() == []


def test_realtime_event_clears_a_suspect(feed: Feed) -> None:
    hot_file(feed)
    feed.realtime("update", feed.file("/up/f", feed.view.clock.watermark()))
    assert feed.suspects() == []
    assert feed.flag("/up/f", "integrity_suspect") is False


def test_realtime_delete_clears_a_suspect(feed: Feed) -> None:
    hot_file(feed, "/up/run/f")
    feed.realtime_delete("/up/run")
    assert feed.suspects() == []


def test_sentinel_tasks_are_suspects_earliest_expiry_first(feed: Feed) -> None:
    for name in ("c", "a", "b"):
        hot_file(feed, f"/up/{name}")
        feed.clock.t += 1
    assert feed.view.sentinel_tasks(limit=2) == ["/up/c", "/up/a"]


def test_sentinel_feedback_with_a_new_hot_mtime_renews_the_suspect(feed: Feed) -> None:
    hot_file(feed)
    feed.clock.t += 500
    grown = feed.view.clock.watermark() - 2
    feed.sentinel(SentinelUpdate("/up/f", True, grown, 4096))
    assert feed.node("/up/f")["size"] == 4096
    feed.clock.t += 200  # past the first TTL
    feed.view.tick()
    assert feed.suspects() == ["/up/f"]
    assert feed.view.suspects()[0]["expires_at"] == feed.clock.t - 200 + 600


def test_sentinel_feedback_with_an_unchanged_mtime_leaves_the_suspect_to_its_ttl(feed: Feed) -> None:
    mtime = hot_file(feed)
    feed.clock.t += 100
    feed.sentinel(SentinelUpdate("/up/f", True, mtime, 1))
    assert feed.view.suspects()[0]["expires_at"] == feed.clock.t - 100 + 600


def test_sentinel_feedback_that_the_file_is_gone_clears_the_suspect_and_the_node(feed: Feed) -> None:
    hot_file(feed)
    feed.sentinel(SentinelUpdate("/up/f", False))
    assert feed.suspects() == []
    assert not feed.exists("/up/f")


def test_sentinel_feedback_with_a_cold_mtime_clears_the_suspect(feed: Feed) -> None:
    hot_file(feed)
    feed.sentinel(SentinelUpdate("/up/f", True, feed.view.clock.watermark() - 3600, 1))
    assert feed.suspects() == []

"""The logical clock as the rules see it: hot/cold decisions follow the storage's clock."""

from __future__ import annotations

from typing import Any

import pytest

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)


def agents_see_fresh_writes(feed: Feed, storage_minus_agent_s: float, count: int = 3) -> None:
    """Realtime events whose mtimes (storage clock) sit ``storage_minus_agent_s`` from the
    agents' observation times: the samples the clock learns its skew from."""
    for i in range(count):
        feed.clock.t += 1
        feed.realtime(
            "insert", feed.file(f"/live/{i}", feed.clock.t + storage_minus_agent_s, local_write=True)
        )


@pytest.mark.parametrize("skew_s", [3600.0, -3600.0], ids=["storage_an_hour_ahead", "storage_an_hour_behind"])
def test_clock_skew_of_an_hour_between_file_mtimes_and_agent_clocks_does_not_flip_hot_cold(
    feed: Feed, skew_s: float
) -> None:
    agents_see_fresh_writes(feed, skew_s)
    storage_now = feed.clock.t + skew_s
    assert feed.view.clock.watermark() == pytest.approx(storage_now, abs=1)

    feed.snapshot(
        feed.file("/up/written_a_minute_ago", storage_now - 60),
        feed.file("/up/written_twenty_minutes_ago", storage_now - 1200),
    )
    assert feed.flag("/up/written_a_minute_ago", "integrity_suspect") is True
    assert feed.flag("/up/written_twenty_minutes_ago", "integrity_suspect") is False
    reasons = {entry["path"]: entry["reason"] for entry in feed.view.suspects()}
    assert reasons.get("/up/written_a_minute_ago") == "hot"


def test_file_with_an_mtime_in_the_future_is_suspect_and_does_not_move_the_watermark(feed: Feed) -> None:
    agents_see_fresh_writes(feed, 0.0)
    watermark = feed.view.clock.watermark()
    a_month_ahead = watermark + 30 * 86_400

    feed.realtime("insert", feed.file("/up/from_a_broken_clock", a_month_ahead, local_write=True))
    feed.snapshot(feed.file("/up/scanned_from_the_future", a_month_ahead))

    assert feed.view.clock.watermark() == watermark
    reasons = {entry["path"]: entry["reason"] for entry in feed.view.suspects()}
    assert reasons == {"/up/from_a_broken_clock": "future", "/up/scanned_from_the_future": "future"}
    assert feed.flag("/up/from_a_broken_clock", "integrity_suspect") is True
    feed.snapshot(feed.file("/up/ordinary", watermark - 3600))
    assert feed.flag("/up/ordinary", "integrity_suspect") is False, "the watermark did not jump ahead"


@pytest.mark.parametrize("counted_as_writes", [False, True], ids=["moved_in", "if_they_were_samples"])
def test_moving_in_old_files_does_not_drag_the_watermark(make_feed: Any, counted_as_writes: bool) -> None:
    feed = make_feed(hot_window_s=30)
    agents_see_fresh_writes(feed, 0.0)
    watermark = feed.view.clock.watermark()
    a_year_ago = feed.clock.t - 365 * 86_400
    moved_in = [
        feed.file(f"/up/archive/f{i:05d}", a_year_ago + i / 1000, local_write=counted_as_writes)
        for i in range(10_000)
    ]
    for start in range(0, len(moved_in), 1000):  # `mv` of a directory: the walk reports its files
        feed.realtime("insert", *moved_in[start : start + 1000])
    feed.snapshot(feed.file("/up/a_minute_old", feed.clock.t - 60))
    if counted_as_writes:  # the test can fail: old mtimes taken as samples drag the clock a year back
        assert feed.view.clock.watermark() < watermark - 300 * 86_400
        assert feed.flag("/up/a_minute_old", "integrity_suspect") is True
    else:
        assert feed.view.clock.watermark() == pytest.approx(watermark, abs=1)
        assert feed.flag("/up/a_minute_old", "integrity_suspect") is False

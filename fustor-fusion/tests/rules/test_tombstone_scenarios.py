"""Tombstones through the engine: deleted files stay deleted until something newer appears."""

from __future__ import annotations

from typing import Any

import pytest

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)

OLD = 1_000_000.0  # an mtime long before the fake clock's "now": cold, and older than any delete


def test_realtime_delete_removes_the_file_and_creates_a_tombstone(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))
    feed.realtime_delete("/d/f")
    assert not feed.exists("/d/f")
    assert feed.stat("tombstones") == 1


def test_realtime_delete_of_a_path_not_yet_in_the_tree_still_creates_a_tombstone(feed: Feed) -> None:
    feed.realtime_delete("/late/f")
    result = feed.snapshot(feed.file("/late/f", OLD))  # the snapshot listed it before the delete
    assert result.reasons == {"tombstoned": 1}
    assert not feed.exists("/late/f")


def test_stale_snapshot_row_cannot_resurrect_a_file_deleted_in_realtime(feed: Feed) -> None:
    feed.snapshot(feed.file("/d/f", OLD))
    feed.realtime_delete("/d/f")
    result = feed.snapshot(feed.file("/d/f", OLD), feed.file("/d/g", OLD))
    assert result.dropped == 1 and result.reasons == {"tombstoned": 1}
    assert not feed.exists("/d/f")
    assert feed.exists("/d/g")


def test_stale_audit_row_cannot_resurrect_a_file_deleted_in_realtime(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))
    feed.audit_start()
    feed.realtime_delete("/d/f")
    result = feed.audit(feed.dir("/d", OLD), feed.file("/d/f", OLD, parent_mtime=OLD))
    feed.audit_end()
    assert result.reasons == {"tombstoned": 1}
    assert not feed.exists("/d/f")


def test_stale_rows_cannot_resurrect_files_of_a_directory_deleted_in_realtime(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.dir("/d/sub", OLD), feed.file("/d/sub/f", OLD))
    feed.realtime_delete("/d")
    result = feed.snapshot(feed.dir("/d", OLD), feed.dir("/d/sub", OLD), feed.file("/d/sub/f", OLD))
    assert result.reasons == {"tombstoned": 3}
    assert not feed.exists("/d")


def test_newer_file_under_a_deleted_name_is_accepted_and_clears_the_tombstone(feed: Feed) -> None:
    feed.snapshot(feed.file("/f", OLD))
    feed.realtime_delete("/f")
    # newer than the delete beyond the clock's uncertainty (the future tolerance)
    recreated = feed.view.clock.watermark() + feed.view.settings.future_tolerance_s + 1
    result = feed.snapshot(feed.file("/f", recreated, size=42))
    assert result.accepted == 1
    assert feed.node("/f")["size"] == 42
    assert feed.stat("tombstones") == 0


def test_realtime_insert_clears_the_tombstone(feed: Feed) -> None:
    feed.realtime_delete("/f")
    feed.realtime("insert", feed.file("/f", OLD))  # cp -p: an old mtime, but seen live
    assert feed.stat("tombstones") == 0
    assert feed.exists("/f")


def test_tombstone_expires_on_the_tick_once_past_its_ttl(feed: Feed) -> None:
    feed.realtime_delete("/f")
    feed.clock.t += 3599
    feed.view.tick()
    assert feed.stat("tombstones") == 1
    feed.clock.t += 2
    feed.view.tick()
    assert feed.stat("tombstones") == 0


def test_tombstone_younger_than_its_ttl_survives_an_audit(feed: Feed) -> None:
    feed.realtime_delete("/f")
    feed.clock.t += 3599
    feed.full_audit()
    feed.view.tick()
    assert feed.stat("tombstones") == 1


@pytest.mark.parametrize("scan", ["audit", "snapshot"])
def test_tombstone_outlives_its_ttl_while_a_scan_that_started_before_the_delete_runs(
    feed: Feed, scan: str
) -> None:
    view = feed.view
    if scan == "audit":
        feed.audit_start()  # this audit may have listed /f before it was deleted
    else:
        view.snapshot_start(None)
    feed.clock.t += 1
    feed.realtime_delete("/f")
    feed.clock.t += 2 * 3600
    view.tick()
    assert feed.stat("tombstones") == 1, "the scan started before the delete"
    stale = feed.snapshot(feed.file("/f", OLD))
    assert stale.reasons == {"tombstoned": 1}

    if scan == "audit":
        feed.audit_end()
    else:
        view.snapshot_end(None)
    view.tick()
    assert feed.stat("tombstones") == 0


@pytest.mark.parametrize(
    "skew_s", [0.0, -1.0, 1.0], ids=["no_skew", "agents_see_writes_late", "storage_ahead"]
)
def test_a_file_changed_just_before_its_delete_is_not_resurrected_by_a_scan_that_listed_it(
    feed: Feed, skew_s: float
) -> None:
    """The logical watermark is an estimate, off by about a second (agents observe writes a
    little late, and samples round to seconds). A file changed where no agent watches less than
    that before a watched host deletes it carries an mtime ahead of the watermark; the stale row
    of a scan that listed it before the delete must still count as older than the delete."""
    for i in range(5):  # the clock learns the skew from fresh local writes
        feed.clock.t += 1
        feed.realtime("insert", feed.file(f"/live/{i}", feed.clock.t + skew_s, local_write=True))
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))  # the tree knows the old version
    storage_now = feed.clock.t + skew_s
    changed = storage_now + 0.8  # rewritten through a blind host a moment ago (rounding put it ahead)
    feed.realtime_delete("/d/f")
    result = feed.snapshot(feed.file("/d/f", changed))  # listed between the change and the delete
    assert result.reasons == {"tombstoned": 1}
    assert not feed.exists("/d/f")


def test_a_late_realtime_row_from_another_host_does_not_rebuild_a_directory_deleted_in_realtime(
    make_feed: Any,
) -> None:
    """Host A resolves a change to /d/sub/f (its stat still found the file) just as host B
    renames /d away; B's delete reaches Fusion first. A's row comes after: writing it would
    re-create /d and /d/sub out of nothing (directories with no mtime), and since the audit then
    saw them as tombstoned they would stay for good. The row is dropped instead."""
    for excluded, dropped in (((), True), (("merge-tombstone",), False)):
        feed = make_feed(exclude=excluded)
        feed.snapshot(feed.dir("/d", OLD), feed.dir("/d/sub", OLD), feed.file("/d/sub/f", OLD))
        feed.realtime_delete("/d")  # host B: /d moved away
        late = feed.realtime("update", feed.file("/d/sub/f", OLD + 5))  # host A, observed before
        assert (late.reasons == {"parent_deleted": 1}) is dropped, excluded
        assert feed.exists("/d/sub/f") is not dropped, excluded
        assert feed.exists("/d") is not dropped, excluded


def test_a_directory_re_created_in_realtime_takes_its_files_in_the_same_batch(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))
    feed.realtime_delete("/d")
    result = feed.realtime("insert", feed.dir("/d", OLD + 10), feed.file("/d/g", OLD + 10))  # mkdir, write
    assert result.dropped == 0
    assert feed.exists("/d/g")
    feed.realtime("insert", feed.file("/d/h", OLD + 11))  # and later ones too: /d is back
    assert feed.exists("/d/h")


def test_a_tombstone_older_than_the_audit_does_not_keep_a_node_the_audit_no_longer_lists(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD), feed.file("/d/g", OLD))
    feed.realtime_delete("/d/f")
    feed.realtime("insert", feed.file("/d/f", OLD))  # cp -p back: realtime wins, its tombstone clears
    feed.realtime_delete("/d/g")
    feed.view.store.upsert([feed.file("/d/g", OLD)], [0], None)  # a node back somehow, tombstone kept
    feed.clock.t += 10
    deleted = feed.full_audit(feed.dir("/d", OLD + 1), feed.file("/d/f", OLD, parent_mtime=OLD + 1))
    assert deleted == ["/d/g"]

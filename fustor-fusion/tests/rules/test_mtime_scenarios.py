"""Realtime first, then mtime: what the merge-mtime rule decides, through the engine."""

from __future__ import annotations

from typing import Any

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)

OLD = 1_000_000.0


def test_realtime_update_wins_even_with_an_older_mtime_than_the_tree(feed: Feed) -> None:
    feed.snapshot(feed.file("/f", OLD + 100))
    result = feed.realtime("update", feed.file("/f", OLD, size=7))
    assert result.accepted == 1
    assert feed.node("/f")["mtime"] == OLD


def test_snapshot_row_older_than_the_tree_is_dropped_and_an_identical_one_is_unchanged(feed: Feed) -> None:
    feed.realtime("insert", feed.file("/new", OLD + 100, size=3), feed.file("/same", OLD, size=5))
    result = feed.snapshot(feed.file("/new", OLD, size=1), feed.file("/same", OLD, size=5))
    assert result.reasons == {"older_than_tree": 1}
    assert result.unchanged == 1 and result.accepted == 0
    assert feed.node("/new")["size"] == 3


def test_audit_row_for_a_known_file_is_accepted_only_when_newer(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD), feed.file("/d/b", OLD + 50))
    feed.audit_start()
    result = feed.audit(
        feed.dir("/d", OLD),
        feed.file("/d/a", OLD + 10, parent_mtime=OLD),
        feed.file("/d/b", OLD, parent_mtime=OLD),
    )
    feed.audit_end()
    assert result.accepted == 1 and result.unchanged == 1 and result.reasons == {"older_than_tree": 1}
    assert feed.node("/d/a")["mtime"] == OLD + 10
    assert feed.node("/d/b")["mtime"] == OLD + 50


def test_audit_row_for_a_new_file_in_an_unchanged_directory_is_added(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD))
    feed.full_audit(feed.dir("/d", OLD + 5), feed.file("/d/new", OLD + 5, parent_mtime=OLD + 5))
    assert feed.exists("/d/new")


def test_audit_row_is_dropped_when_the_directory_changed_after_the_scan_listed_it(feed: Feed) -> None:
    """The parent-mtime check: a file created and deleted on a host without agent was listed
    by the scan; meanwhile realtime saw the directory change (a sibling was added), so the
    listing is outdated and the row is no proof the file still exists."""
    feed.snapshot(feed.dir("/d", OLD))
    feed.audit_start()
    feed.clock.t += 1
    feed.realtime("insert", feed.file("/d/sibling", OLD + 60, parent_mtime=OLD + 60))  # /d now at OLD+60
    result = feed.audit(feed.dir("/d", OLD), feed.file("/d/ghost", OLD - 10, parent_mtime=OLD))
    feed.audit_end()
    assert result.reasons == {"older_than_tree": 1, "parent_changed": 1}
    assert not feed.exists("/d/ghost")
    assert feed.exists("/d/sibling"), "realtime confirmed it after the audit started"


def test_parent_mtime_check_alone_stops_an_audit_row_for_a_file_deleted_after_the_scan(
    make_feed: Any,
) -> None:
    feed = make_feed(exclude=["merge-tombstone"])  # no tombstone: only the parent check protects
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/f", OLD))
    feed.audit_start()  # the scan lists /d (mtime OLD) with f in it ...
    feed.realtime_delete("/d/f", parent_mtime=OLD + 30)  # ... then f is deleted
    result = feed.audit(feed.dir("/d", OLD), feed.file("/d/f", OLD, parent_mtime=OLD))
    feed.audit_end()
    assert result.reasons == {"older_than_tree": 1, "parent_changed": 1}
    assert not feed.exists("/d/f")


def test_audit_end_deletes_files_missing_from_a_fully_listed_directory(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD), feed.file("/d/b", OLD))
    deleted = feed.full_audit(feed.dir("/d", OLD + 1), feed.file("/d/a", OLD, parent_mtime=OLD + 1))
    assert deleted == ["/d/b"]
    assert not feed.exists("/d/b") and feed.exists("/d/a")


def test_cp_p_style_old_mtime_file_created_by_realtime_after_an_audit_started_is_not_deleted_at_its_end(
    feed: Feed,
) -> None:
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD))
    feed.audit_start()
    feed.clock.t += 5  # the scan has listed /d already; now `cp -p` lands a file with an old mtime
    feed.realtime("insert", feed.file("/d/copied", OLD - 86_400))
    deleted_at_end = (
        feed.audit(feed.dir("/d", OLD), feed.file("/d/a", OLD, parent_mtime=OLD)),
        feed.audit_end(),
    )[1]
    assert deleted_at_end == []
    assert feed.exists("/d/copied")


def test_audit_skipped_directories_never_lose_files_at_audit_end(feed: Feed) -> None:
    feed.snapshot(
        feed.dir("/d", OLD),
        feed.file("/d/a", OLD),
        feed.file("/d/b", OLD),
        feed.dir("/d/sub", OLD),
        feed.file("/d/sub/c", OLD),
    )
    deleted = feed.full_audit(
        feed.dir("/d", OLD, audit_skipped=True),  # unchanged: its files are not listed again
        feed.dir("/d/sub", OLD),
        feed.file("/d/sub/c", OLD, parent_mtime=OLD),
    )
    assert deleted == []
    assert all(feed.exists(p) for p in ("/d/a", "/d/b", "/d/sub/c"))

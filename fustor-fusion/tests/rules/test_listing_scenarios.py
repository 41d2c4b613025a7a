"""A snapshot is a complete listing, like an audit: what it did not find is removed at its end.

An agent that was down while files were deleted comes back with a snapshot; that snapshot also
seeds the audit's directory cache, so the next audits skip the unchanged directories. Unless the
snapshot itself removes what it no longer lists, those deletions would stay in the view for good.
The protections of an audit's end hold for a snapshot's end too.
"""

from __future__ import annotations

from typing import Any

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)
MakeFeed = Any

OLD = 1_600_000_000.0


def seed(feed: Feed) -> None:
    feed.full_snapshot(
        feed.dir("/", OLD),
        feed.dir("/d", OLD),
        feed.file("/d/a", OLD),
        feed.file("/d/b", OLD),
        feed.dir("/d/sub", OLD),
        feed.file("/d/sub/c", OLD),
        feed.file("/top", OLD),
    )


def test_snapshot_end_removes_what_was_deleted_while_no_agent_watched(feed: Feed) -> None:
    seed(feed)
    deleted = feed.full_snapshot(
        feed.dir("/", OLD + 1),
        feed.dir("/d", OLD + 1),
        feed.file("/d/a", OLD),
        feed.dir("/d/sub", OLD),  # listed, now empty
    )
    assert sorted(deleted) == ["/d/b", "/d/sub/c", "/top"]
    assert [p for p in ("/d/a", "/d/b", "/d/sub", "/d/sub/c", "/top") if feed.exists(p)] == ["/d/a", "/d/sub"]
    # removed where no agent saw it: listed as blind-spot deletions, like an audit's finds
    assert sorted(feed.deletions()) == ["/d/b", "/d/sub/c", "/top"]


def test_a_directory_the_snapshot_could_not_list_fully_keeps_its_files(feed: Feed) -> None:
    seed(feed)
    deleted = feed.full_snapshot(
        feed.dir("/", OLD),
        feed.file("/top", OLD),
        feed.dir("/d", OLD),
        feed.file("/d/a", OLD),  # /d/b could not be stat'ed (EIO): not evidence of anything
        feed.dir("/d", OLD, audit_skipped=True),  # the walk says so after the fact: this row wins
        feed.dir("/d/sub", OLD, audit_skipped=True),  # could not be listed at all
    )
    assert deleted == []
    assert all(feed.exists(p) for p in ("/d/a", "/d/b", "/d/sub/c", "/top"))


def test_a_listing_speaks_for_the_directories_it_sent_a_row_for(feed: Feed) -> None:
    seed(feed)
    # the walk lists the root (it finds /top and no /d: deleted as a whole) and nothing else
    assert feed.full_snapshot(feed.dir("/", OLD), feed.file("/top", OLD)) == ["/d"]
    seed(feed)
    # a snapshot that sends no row of its own for the root infers nothing about the root
    deleted = feed.full_snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD), feed.file("/d/b", OLD))
    assert deleted == ["/d/sub"]
    assert feed.exists("/top")


def test_a_file_realtime_created_after_the_snapshot_started_survives_its_end(feed: Feed) -> None:
    seed(feed)
    feed.snapshot_start()
    feed.clock.t += 5  # the walk listed /d already; `cp -p` now lands a file with an old mtime
    feed.realtime("insert", feed.file("/d/copied", OLD - 86_400))
    feed.snapshot(feed.dir("/", OLD), feed.file("/top", OLD), feed.dir("/d", OLD))
    feed.snapshot(feed.file("/d/a", OLD), feed.file("/d/b", OLD), feed.dir("/d/sub", OLD))
    feed.snapshot(feed.file("/d/sub/c", OLD))
    assert feed.snapshot_end() == []
    assert feed.exists("/d/copied")


def test_a_directory_that_changed_after_the_scan_listed_it_loses_nothing(make_feed: MakeFeed) -> None:
    for excluded, survives in (((), True), (("merge-mtime",), False)):
        feed = make_feed(exclude=excluded)
        seed(feed)
        feed.snapshot_start()
        feed.snapshot(feed.dir("/", OLD), feed.file("/top", OLD), feed.dir("/d", OLD), feed.file("/d/a", OLD))
        feed.snapshot(feed.dir("/d/sub", OLD), feed.file("/d/sub/c", OLD))
        # /d/b was not in the listing of /d at mtime OLD, but realtime then reports /d changed
        # (a new file, with /d's new mtime): the listing no longer speaks for /d's contents
        feed.realtime("insert", feed.file("/d/new", OLD + 60, parent_mtime=OLD + 60))
        feed.clock.t -= 10  # make /d/new's realtime confirmation not the reason it survives
        deleted = feed.snapshot_end()
        assert feed.exists("/d/b") is survives, excluded
        assert (deleted == []) is survives, (excluded, deleted)


def test_an_audit_keeps_what_a_directory_changed_after_its_listing_may_hold(make_feed: MakeFeed) -> None:
    for excluded, survives in (((), True), (("merge-mtime",), False)):
        feed = make_feed(exclude=excluded)
        seed(feed)
        feed.clock.t += 100
        feed.audit_start()
        feed.audit(feed.dir("/d", OLD + 1), feed.file("/d/a", OLD, parent_mtime=OLD + 1))
        feed.realtime("update", feed.file("/d/a", OLD + 90, parent_mtime=OLD + 90))
        feed.audit_end()
        assert feed.exists("/d/b") is survives, excluded


def test_snapshot_end_without_a_start_deletes_nothing(feed: Feed) -> None:
    seed(feed)
    feed.snapshot(feed.dir("/", OLD))
    assert feed.snapshot_end() == []
    assert feed.exists("/d/a")


def test_a_newer_snapshot_abandons_the_running_one(feed: Feed) -> None:
    seed(feed)
    feed.snapshot_start()
    feed.snapshot(feed.dir("/d", OLD))  # lists /d as empty, then the leader goes away
    feed.snapshot_start()
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD), feed.file("/d/b", OLD))
    feed.snapshot(feed.dir("/d/sub", OLD), feed.file("/d/sub/c", OLD))
    assert feed.snapshot_end() == []
    assert feed.exists("/d/a") and feed.exists("/d/b")

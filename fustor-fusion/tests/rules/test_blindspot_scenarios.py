"""Blind spots through the engine: what audits find that no agent reported, and how it clears."""

from __future__ import annotations

from typing import Any

Feed = Any  # the conftest fixture (tests cannot import conftest under --import-mode=importlib)

OLD = 1_000_000.0


def known_dir(feed: Feed) -> None:
    """/d with /d/a and /d/b, as the leader's snapshot reported them."""
    feed.snapshot(feed.dir("/d", OLD), feed.file("/d/a", OLD), feed.file("/d/b", OLD))


def audit_of_d(feed: Feed, dir_mtime: float, **files: float) -> list[str]:
    """A full audit listing /d with exactly ``files`` (name -> mtime)."""
    rows = [feed.file(f"/d/{name}", mtime, parent_mtime=dir_mtime) for name, mtime in files.items()]
    return feed.full_audit(feed.dir("/d", dir_mtime), *rows)


def test_file_created_on_a_host_without_agent_is_a_blind_spot_addition(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD, b=OLD, new=OLD + 10)
    assert feed.exists("/d/new")
    assert feed.flag("/d/new", "agent_missing") is True
    assert feed.flag("/d/a", "agent_missing") is False
    assert feed.additions() == ["/d/new"]
    assert feed.stat("blind_spot_additions") == 1 and feed.stat("has_blind_spot") is True


def test_file_modified_on_a_host_without_agent_is_a_blind_spot_addition(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD, a=OLD + 20, b=OLD)
    assert feed.node("/d/a")["mtime"] == OLD + 20
    assert feed.additions() == ["/d/a"]


def test_file_deleted_on_a_host_without_agent_is_a_blind_spot_deletion(feed: Feed) -> None:
    known_dir(feed)
    feed.clock.t += 3
    assert audit_of_d(feed, OLD + 10, a=OLD) == ["/d/b"]
    assert not feed.exists("/d/b")
    assert feed.view.blind_spots()["deletions"] == [{"path": "/d/b", "deleted_at": feed.clock.t}]
    assert feed.stat("has_blind_spot") is True


def test_realtime_event_clears_a_blind_spot_addition(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD, b=OLD, new=OLD + 10)
    feed.realtime("update", feed.file("/d/new", OLD + 30))
    assert feed.flag("/d/new", "agent_missing") is False
    assert feed.stat("has_blind_spot") is False


def test_realtime_event_clears_a_blind_spot_deletion(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD)
    feed.realtime("insert", feed.file("/d/b", OLD + 40))
    assert feed.deletions() == []


def test_realtime_delete_clears_the_blind_spot_additions_of_a_directory(feed: Feed) -> None:
    feed.snapshot(feed.dir("/d", OLD))
    feed.full_audit(feed.dir("/d", OLD + 1), feed.dir("/d/new", OLD + 1), feed.file("/d/new/f", OLD + 1))
    assert feed.additions() == ["/d/new", "/d/new/f"]
    feed.realtime_delete("/d/new")
    assert feed.additions() == []


def test_later_audit_that_finds_a_deleted_path_again_clears_the_blind_spot_deletion(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD)
    audit_of_d(feed, OLD + 20, a=OLD, b=OLD + 20)
    assert feed.deletions() == []
    assert feed.additions() == ["/d/b"], "it came back where no agent watches: a blind-spot addition"


def test_later_audit_that_no_longer_finds_an_added_file_turns_it_into_a_deletion(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD, b=OLD, new=OLD + 10)
    audit_of_d(feed, OLD + 20, a=OLD, b=OLD)
    assert feed.additions() == []
    assert feed.deletions() == ["/d/new"]


def test_new_leader_session_clears_both_blind_spot_lists(feed: Feed) -> None:
    known_dir(feed)
    audit_of_d(feed, OLD + 10, a=OLD, new=OLD + 10)
    assert feed.additions() == ["/d/new"] and feed.deletions() == ["/d/b"]
    feed.view.leader_session("new-leader")
    assert feed.view.blind_spots() == {"additions": [], "deletions": []}
    assert feed.stat("has_blind_spot") is False
    assert feed.flag("/d/new", "agent_missing") is False

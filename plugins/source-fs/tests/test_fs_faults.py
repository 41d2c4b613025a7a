"""Stat and listing errors on a real FUSE file system (EIO, ESTALE injected on chosen paths).

A failed stat must never read as "this entry is gone": the directory it sits in is sent as not
fully listed (``audit_skipped``), so Fusion deletes nothing in it; the rows that were read still
apply; the failure is counted by errno name; the directory stays out of the audit cache, so the
next audit lists it again.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from fs_testkit import make_source


def build(root: Path) -> None:
    """/d/{f1,f2,f3}, /d/sub/g, /e/h — every directory an hour old (out of the racy window)."""
    (root / "d" / "sub").mkdir(parents=True)
    for name in ("f1", "f2", "f3"):
        (root / "d" / name).write_bytes(name.encode())
    (root / "d" / "sub" / "g").write_bytes(b"g")
    (root / "e").mkdir()
    (root / "e" / "h").write_bytes(b"h")
    past = time.time() - 3600
    for directory in ("d/sub", "d", "e", ""):
        os.utime(root / directory, (past, past))


def scan(source: Any, kind: str, cache: dict[str, Any]) -> list[dict[str, Any]]:
    walk = source.snapshot if kind == "snapshot" else source.audit
    return [row for batch in walk(threading.Event(), 2, cache) for row in batch]


def last_row_of(rows: list[dict[str, Any]], path: str) -> dict[str, Any]:
    """What Fusion ends up with for ``path``: a later ``audit_skipped`` row wins."""
    return [row for row in rows if row["path"] == path][-1]


def test_an_entry_whose_stat_fails_makes_its_directory_not_fully_listed(faulty: Any) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    faulty.fail("/d/f2", "getattr", error="EIO")
    cache: dict[str, Any] = {}
    rows = scan(source, "audit", cache)
    assert ("getattr", "/d/f2", "EIO") in faulty.hits()
    paths = [row["path"] for row in rows]
    assert "/d/f2" not in paths
    assert "/d/f1" in paths and "/d/f3" in paths  # what was read still applies
    assert last_row_of(rows, "/d")["audit_skipped"] is True
    assert not last_row_of(rows, "/e").get("audit_skipped")
    assert source.stat_errors() == {"EIO": 1}
    assert "/d" not in cache and "/e" in cache  # /d is listed again next time

    faulty.clear()
    retried = scan(source, "audit", cache)
    assert not last_row_of(retried, "/d").get("audit_skipped")
    assert {"/d/f1", "/d/f2", "/d/f3"} <= {row["path"] for row in retried}
    assert last_row_of(retried, "/e")["audit_skipped"] is True  # unchanged, skipped as before
    assert "/d" in cache


def test_the_snapshot_sends_the_same_listing_and_does_not_seed_the_cache_for_the_failed_directory(
    faulty: Any,
) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    faulty.fail("/d/f1", "getattr", error="ESTALE")
    cache: dict[str, Any] = {}
    rows = scan(source, "snapshot", cache)
    assert "/d/f1" not in {row["path"] for row in rows}
    assert last_row_of(rows, "/d")["audit_skipped"] is True
    assert source.stat_errors()["ESTALE"] >= 1  # the kernel retries an ESTALE lookup itself
    assert "/d" not in cache and {"/", "/e", "/d/sub"} <= set(cache)

    faulty.clear()
    audited = scan(source, "audit", cache)  # the first audit after the snapshot lists /d again
    assert not last_row_of(audited, "/d").get("audit_skipped")
    assert "/d/f1" in {row["path"] for row in audited}
    assert not any(row["path"].startswith("/e/") for row in audited)


def test_a_directory_that_cannot_be_listed_or_opened_is_sent_as_not_fully_listed(faulty: Any) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    faulty.fail("/d", "readdir", error="EIO")
    faulty.fail("/e", "opendir", error="EIO")
    cache: dict[str, Any] = {}
    rows = scan(source, "audit", cache)
    assert last_row_of(rows, "/d")["audit_skipped"] is True
    assert last_row_of(rows, "/e")["audit_skipped"] is True
    assert not any(row["path"].startswith(("/d/", "/e/")) for row in rows)
    assert source.stat_errors() == {"EIO": 2}
    assert "/d" not in cache and "/e" not in cache


def test_a_cached_subdirectory_whose_stat_fails_is_not_visited_and_is_listed_next_time(faulty: Any) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    cache: dict[str, Any] = {}
    scan(source, "audit", cache)
    faulty.fail("/d/sub", "getattr", error="EIO")
    rows = scan(source, "audit", cache)
    assert "/d/sub" not in {row["path"] for row in rows}  # no row: Fusion infers nothing below it
    assert last_row_of(rows, "/d")["audit_skipped"] is True  # unchanged: skipped as before
    assert "/d/sub" not in cache
    faulty.clear()
    again = scan(source, "audit", cache)
    assert not last_row_of(again, "/d/sub").get("audit_skipped")
    assert "/d/sub/g" in {row["path"] for row in again}


def test_a_failed_recheck_is_left_out_not_reported_gone(faulty: Any) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    faulty.fail("/d/f3", "getattr", error="EIO")
    checks = {check["path"]: check for check in source.recheck(["/d/f1", "/d/f3", "/d/none"])}
    assert set(checks) == {"/d/f1", "/d/none"}
    assert checks["/d/f1"]["exists"] is True and checks["/d/none"]["exists"] is False
    assert source.stat_errors() == {"EIO": 1}


def test_stat_errors_accumulate_per_reason_across_walks(faulty: Any) -> None:
    build(faulty.backing)
    source = make_source(faulty.mountpoint)
    faulty.fail("/d/f1", "getattr", error="EIO")
    faulty.fail("/e/h", "getattr", error="EACCES")
    scan(source, "snapshot", {})
    scan(source, "audit", {})
    assert source.stat_errors() == {"EIO": 2, "EACCES": 2}
    assert source.counters()["io_error"] == 2 and source.counters()["permission_denied"] == 2


def test_the_mount_really_passes_through(faulty: Any, tmp_path: Path) -> None:
    """The fault-free mount is the backing tree: same names, sizes and mtimes."""
    build(faulty.backing)
    rows = {row["path"]: row for row in scan(make_source(faulty.mountpoint), "snapshot", {})}
    assert rows["/d/f2"]["size"] == 2
    assert rows["/d/f2"]["mtime"] == os.lstat(faulty.backing / "d" / "f2").st_mtime
    assert faulty.hits() == []

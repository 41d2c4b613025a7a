"""Sentinel re-checks: current existence, mtime and size, never through a symlink."""

from __future__ import annotations

import os
from pathlib import Path

from fs_testkit import make_source


def test_recheck_reports_current_state_of_each_path(tree: Path) -> None:
    (tree / "d").mkdir()
    (tree / "d" / "f").write_bytes(b"abc")
    source = make_source(tree)
    checks = {check["path"]: check for check in source.recheck(["/d/f", "/d/missing", "/d"])}
    assert checks["/d/f"] == {
        "path": "/d/f",
        "exists": True,
        "mtime": os.lstat(tree / "d" / "f").st_mtime,
        "size": 3,
    }
    assert checks["/d/missing"] == {"path": "/d/missing", "exists": False}
    assert checks["/d"]["exists"] is True and checks["/d"]["size"] == 0
    assert source.counters()["rechecks"] == 1


def test_recheck_does_not_look_through_symlinks_or_outside_the_root(tree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"x")
    os.symlink(outside, tree / "link")
    source = make_source(tree)
    checks = {check["path"]: check for check in source.recheck(["/link/secret", "/../outside/secret", "rel"])}
    assert checks == {"/link/secret": {"path": "/link/secret", "exists": False}}
    assert source.counters()["invalid_path"] == 2

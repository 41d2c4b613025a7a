"""What a real host throws at the source: unreadable directories and the inotify watch limit.

Permission checks do not apply to root, so when the tests run as root the walk runs in a child
process without the capabilities that bypass them (``setpriv``). The watch limit is lowered in
a child user namespace (the kernel keeps a separate inotify limit per user namespace), so the
rest of the machine is not affected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

NOBODY = 65534
WITHOUT_DAC_BYPASS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]

WALK = """
import json, sys, threading
from fustor_core.logs import configure_logging
configure_logging("WARNING")
from fustor_source_fs import FsSource, FsSourceOptions
source = FsSource(FsSourceOptions(path=sys.argv[1]))
mode = sys.argv[2]
stop = threading.Event()
lost = []
if mode == "snapshot":
    rows = [r for b in source.snapshot(stop, 100, {}) for r in b]
elif mode == "audit":
    rows = [r for b in source.audit(stop, 100, {}) for r in b]
else:
    rows = []
    def ready():
        open(sys.argv[3], "w").write("ready")
    for items in source.watch(stop, ready):
        lost += [{"paths": list(i.paths), "reason": i.reason} for i in items if not hasattr(i, "rows")]
        rows += [r for e in items if hasattr(e, "rows") for r in e.rows]
        if any(r["path"].endswith("/marker") for r in rows):
            break
counters, stat_errors = source.counters(), source.stat_errors()
print(json.dumps({"rows": rows, "lost": lost, "counters": counters, "stat_errors": stat_errors}))
"""


def run_walk_unprivileged(root: Path, mode: str) -> dict[str, Any]:
    """Run a walk in a child that file permissions apply to (even when we are root)."""
    prefix = WITHOUT_DAC_BYPASS if os.geteuid() == 0 else []
    argv = [*prefix, sys.executable, "-c", WALK, str(root), mode]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _locked_tree(root: Path) -> None:
    (root / "open").mkdir()
    (root / "open" / "f").write_bytes(b"1")
    (root / "locked").mkdir()
    (root / "locked" / "hidden").write_bytes(b"2")
    (root / "noexec").mkdir()
    (root / "noexec" / "listed-not-statable").write_bytes(b"3")
    for path in (root, root / "open", root / "locked", root / "noexec"):
        path.chmod(0o755)
    (root / "open" / "f").chmod(0o644)
    (root / "locked").chmod(0o000)
    os.chown(root / "noexec", NOBODY, NOBODY)
    (root / "noexec").chmod(0o744)  # readable but not searchable by others: names, no stat


@pytest.mark.parametrize("walk", ["snapshot", "audit"])
def test_unreadable_directories_are_sent_as_not_fully_listed_so_their_contents_are_not_deleted(
    tree: Path, walk: str
) -> None:
    _locked_tree(tree)
    result = run_walk_unprivileged(tree, walk)
    rows: dict[str, dict[str, Any]] = {}
    for row in result["rows"]:  # a later audit_skipped row for a directory wins
        rows[row["path"]] = row
    assert rows["/locked"]["audit_skipped"] is True
    assert rows["/noexec"]["audit_skipped"] is True
    assert not rows["/open"].get("audit_skipped") and "/open/f" in rows
    assert "/locked/hidden" not in rows and "/noexec/listed-not-statable" not in rows
    assert result["counters"]["permission_denied"] == 2
    assert result["stat_errors"] == {"EACCES": 2}


def _userns_available() -> str | None:
    if shutil.which("unshare") is None:
        return "unshare(1) is not installed"
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "sh", "-c", "echo 5 > /proc/sys/user/max_inotify_watches"],
        capture_output=True,
        text=True,
    )
    return None if probe.returncode == 0 else f"no user namespaces here: {probe.stderr.strip()}"


def test_the_inotify_watch_limit_is_logged_and_the_watched_part_still_works(tmp_path: Path) -> None:
    reason = _userns_available()
    if reason is not None:
        pytest.fail(f"this test needs a user namespace to lower the watch limit safely: {reason}")
    root = tmp_path / "export"
    for name in ("a", "b", "c", "d", "e", "f"):
        (root / name / "sub").mkdir(parents=True)
    ready = tmp_path / "ready"
    limit = 4  # the root and three directories; the rest stays unwatched
    script = f'echo {limit} > /proc/sys/user/max_inotify_watches && exec "$@"'
    child = subprocess.Popen(
        [
            "unshare",
            "--user",
            "--map-root-user",
            "sh",
            "-c",
            script,
            "sh",
            sys.executable,
            "-c",
            WALK,
            str(root),
            "watch",
            str(ready),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = 20.0
        start = time.monotonic()
        while not ready.exists():
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            assert time.monotonic() - start < deadline, "the watcher never became ready"
            time.sleep(0.02)
        (root / "late").mkdir()  # appears after the setup: cannot be watched, so it is reported
        time.sleep(0.2)
        (root / "marker").touch()  # the root is watched: this still arrives
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    result = json.loads(out)
    assert "/marker" in {row["path"] for row in result["rows"]}
    assert result["counters"]["watched_dirs"] == limit
    assert result["counters"]["unwatched_dirs"] >= 1
    assert result["lost"] == [{"paths": ["/late"], "reason": "unwatched"}]  # not the setup's
    assert "inotify watch limit reached" in err and "max_user_watches" in err

"""Rule options and answer keys as an operator meets them: ``fustor-fusion serve`` as a real
process, a third-party plugin installed the way pip leaves it (a dist-info on PYTHONPATH)."""

from __future__ import annotations

import os
import queue
import re
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from fusion_testkit import fusion_command

from fustor_core.testing import install_distribution, wait_for

STATIC = """\
tick_interval_s: 0.1
datastores:
  demo:
    api_keys:
      - {key: "ingest-secret", scopes: [ingest]}
      - {key: "query-secret",  scopes: [query]}
"""

FLAGGER = """
from fustor_core import hookimpl

@hookimpl
def fustor_node_flags(view):
    return {"integrity_suspect": lambda path: path.endswith(".part")}
"""


def _env(tmp_path: Path, site: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")}
    env["FUSTOR_HOME"] = str(tmp_path / "home")
    if site is not None:
        env["PYTHONPATH"] = str(site)
    return env


def _serve_and_fail(
    tmp_path: Path, config: str, site: Path | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "fusion.yaml"
    path.write_text(config)
    return subprocess.run(
        [*fusion_command(), "serve", "--config", str(path), "--port", "0"],
        env=_env(tmp_path, site),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_bad_rule_option_stops_fusion_naming_the_key_path(tmp_path: Path) -> None:
    config = STATIC + "    rules:\n      merge-tombstone: {ttl_s: -1}\n"
    done = _serve_and_fail(tmp_path, config)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"fustor-fusion: {tmp_path / 'fusion.yaml'}: datastores.demo.rules.merge-tombstone.ttl_s:"
        " Input should be greater than or equal to 0\n"
    )


def test_an_unknown_rule_stops_fusion_naming_the_installed_ones(tmp_path: Path) -> None:
    done = _serve_and_fail(tmp_path, STATIC + "rules:\n  merge-tombstones: {ttl_s: 1}\n")
    assert done.returncode == 2, done.stderr
    assert "rules.merge-tombstones: no rule 'merge-tombstones' is installed" in done.stderr
    assert "merge-blindspot, merge-completion, merge-suspect, merge-tombstone" in done.stderr


def test_two_plugins_giving_one_flag_stop_fusion_naming_both(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_distribution(
        site,
        "fake-flagger",
        "0.3.0",
        modules={"fake_flagger": FLAGGER},
        entry_points={"fustor": {"flagger": "fake_flagger"}},
    )
    done = _serve_and_fail(tmp_path, STATIC, site)
    assert done.returncode == 2, done.stderr
    assert "datastore 'demo': two plugins give the node flag 'integrity_suspect'" in done.stderr
    assert "'flagger' (distribution fake-flagger 0.3.0, entry point fake_flagger)" in done.stderr
    assert "'merge-suspect' (distribution fustor-merge-suspect" in done.stderr


@pytest.fixture
def deprecated_fusion(tmp_path: Path) -> tuple[str, list[str], subprocess.Popen[str]]:
    """A Fusion whose fusion.yaml still says ``tombstone_ttl_s`` (of 2 seconds)."""
    path = tmp_path / "fusion.yaml"
    path.write_text("tombstone_ttl_s: 2\n" + STATIC)
    process = subprocess.Popen(
        [*fusion_command(), "serve", "--config", str(path), "--port", "0"],
        env=_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    assert process.stderr is not None
    stderr = process.stderr
    threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()

    def url() -> str | None:
        while not lines.empty():
            seen.append(lines.get())
            match = re.search(r"msg=\"fusion listening\" url=(\S+)", seen[-1])
            if match:
                return match.group(1)
        assert process.poll() is None, "".join(seen)
        return None

    try:
        yield wait_for(url, timeout=30, what="fusion listening"), seen, process
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_a_deprecated_key_is_warned_about_and_still_works(
    deprecated_fusion: tuple[str, list[str], subprocess.Popen[str]],
) -> None:
    url, log, _ = deprecated_fusion
    warnings = [line for line in log if 'msg="deprecated config key"' in line]
    assert len(warnings) == 1, log
    assert "key=tombstone_ttl_s use=rules.merge-tombstone.ttl_s" in warnings[0]

    with httpx.Client(base_url=url, timeout=10) as client:
        wait_for(lambda: client.get("/readyz").status_code == 200, timeout=30)
        ingest = {"X-API-Key": "ingest-secret"}
        sid = client.post("/api/v1/ingest/sessions", json={"agent_id": "a"}, headers=ingest).json()[
            "session_id"
        ]
        deleted = {"message_source": "realtime", "event_type": "delete", "index": int(time.time() * 1000)}
        deleted["rows"] = [{"path": "/gone", "is_dir": False, "size": 0, "mtime": time.time()}]
        sent = client.post(
            f"/api/v1/ingest/sessions/{sid}/events", json={"seq": 1, "events": [deleted]}, headers=ingest
        )
        assert sent.status_code == 200, sent.text

        def tombstones() -> list[str]:
            answer = client.get("/api/v1/views/demo/lists/tombstones", headers={"X-API-Key": "query-secret"})
            return [entry["path"] for entry in answer.json()]

        assert tombstones() == ["/gone"]
        # the default TTL is an hour: the tombstone going after ~2 s is the deprecated key at work
        wait_for(lambda: tombstones() == [], timeout=30, what="the tombstone to expire after tombstone_ttl_s")

"""``fustor-fusion serve`` as a real process with the smallest config (of earlier versions); ``plugins``."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx
import pytest
from fusion_testkit import MINIMAL, fusion_command, wait_until


def pump(stream: IO[str], lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str], queue.Queue[str]]]:
    config = tmp_path / "fusion.yaml"
    config.write_text(MINIMAL)
    env = {**os.environ, "FUSTOR_HOME": str(tmp_path / "home")}
    process = subprocess.Popen(
        [*fusion_command(), "serve", "--config", str(config), "--host", "127.0.0.1", "--port", "0"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stderr is not None
    stderr = process.stderr
    threading.Thread(target=pump, args=(stderr, lines), daemon=True).start()

    def listening_url() -> str | None:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            assert process.poll() is None, "fustor-fusion serve exited early"
            return None
        match = re.search(r"msg=\"fusion listening\" url=(\S+)", line)
        return match.group(1) if match else None

    try:
        url = wait_until(listening_url, timeout=30)
        yield url, process, lines
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_serve_with_the_minimal_config(served: tuple[str, subprocess.Popen[str], queue.Queue[str]]) -> None:
    url, process, lines = served
    with httpx.Client(base_url=url, timeout=10) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=30, interval=0.05)
        opened = client.post(
            "/api/v1/ingest/sessions", json={"agent_id": "a"}, headers={"X-API-Key": "ingest-secret"}
        )
        assert opened.status_code == 201
        assert opened.json()["session_timeout_s"] == 30
        stats = client.get("/api/v1/views/demo/stats", headers={"X-API-Key": "query-secret"})
        assert stats.status_code == 200
        assert stats.json()["leader"] == opened.json()["session_id"]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    # ...after a graceful shutdown
    wait_until(lambda: "fusion stopped" in lines.get(timeout=1), timeout=10)


def test_serve_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "fusion.yaml"
    config.write_text(MINIMAL.replace("scopes: [query]", "scopes: [read]"))
    result = subprocess.run(
        [*fusion_command(), "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "datastores.demo.api_keys.1.scopes.0" in result.stderr
    assert "Traceback" not in result.stderr


def test_plugins_lists_the_installed_plugins() -> None:
    result = subprocess.run([*fusion_command(), "plugins"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "storage-memory" in result.stdout
    assert "fustor_tree_store" in result.stdout

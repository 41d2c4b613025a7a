"""A crowd of slow or idle connections neither keeps a real client out of the Registry nor stays
open for good (on a real ``fustor-registry serve`` process)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from registry_testkit import FAST_HASHING, SECRET_KEY

from fustor_core.http_testing import SlowClients
from fustor_core.testing import free_port, wait_for

LIMITS = {"header_timeout_s": 1.5, "body_timeout_s": 1.5, "keep_alive_timeout_s": 1.0, "max_connections": 20}


@pytest.fixture
def registry_port(tmp_path: Path) -> Iterator[int]:
    """A ``fustor-registry serve`` on SQLite with small connection limits; its port."""
    path = tmp_path / "registry.yaml"
    config = {
        "database_url": f"sqlite:///{tmp_path / 'registry.db'}",
        "secret_key": SECRET_KEY,
        "password_hash": FAST_HASHING,
        "connections": LIMITS,
    }
    path.write_text(yaml.safe_dump(config))
    port = free_port()
    env = {**os.environ, "FUSTOR_HOME": str(tmp_path / "home")}
    with (tmp_path / "registry.log").open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fustor_registry.cli",
                "serve",
                "--config",
                str(path),
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(
            lambda: process.poll() is not None or _answers(f"http://127.0.0.1:{port}/readyz"), 30, "registry"
        )
        assert process.poll() is None, (tmp_path / "registry.log").read_text()
        yield port
    finally:
        process.terminate()
        process.wait(15)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def test_slow_and_idle_connections_beyond_the_limit_do_not_lock_out_a_real_client(registry_port: int) -> None:
    slow = SlowClients("127.0.0.1", registry_port, path="/api/v1/auth/login")
    try:
        for kind in ("silent", "half_head", "half_body"):
            slow.open(12, kind)  # 36 slow connections against a limit of 20
        started = time.monotonic()
        answer = httpx.get(f"http://127.0.0.1:{registry_port}/readyz", timeout=5)
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < LIMITS["header_timeout_s"]
        assert slow.closed_by_server() >= 36 + 1 - LIMITS["max_connections"]
        slow.wait_all_closed(timeout_s=LIMITS["body_timeout_s"] + 5)
    finally:
        slow.close()

"""A crowd of slow or idle connections neither keeps a real client out nor stays open for good
(on a real ``fustor-fusion serve`` process)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from fusion_testkit import MINIMAL, QUERY_KEY, fusion_process

from fustor_core.http_testing import SlowClients

LIMITS = {"header_timeout_s": 1.5, "body_timeout_s": 1.5, "keep_alive_timeout_s": 1.0, "max_connections": 20}


@pytest.fixture
def fusion_port(tmp_path: Path) -> Iterator[int]:
    """A ``fustor-fusion serve`` with small limits; its port."""
    config = yaml.safe_load(MINIMAL)
    config["connections"] = LIMITS
    with fusion_process(tmp_path, config) as port:
        yield port


def test_slow_and_idle_connections_beyond_the_limit_do_not_lock_out_a_real_client(fusion_port: int) -> None:
    slow = SlowClients("127.0.0.1", fusion_port, path="/api/v1/ingest/sessions")
    try:
        for kind in ("silent", "half_head", "half_body"):
            slow.open(12, kind)  # 36 slow connections against a limit of 20
        started = time.monotonic()
        answer = httpx.get(
            f"http://127.0.0.1:{fusion_port}/api/v1/views/demo/stats",
            headers={"X-API-Key": QUERY_KEY},
            timeout=5,
        )
        assert answer.status_code == 200, answer.text
        assert time.monotonic() - started < LIMITS["header_timeout_s"]  # served before any timeout
        # the limit held: the oldest slow connections were closed to make room
        assert slow.closed_by_server() >= 36 + 1 - LIMITS["max_connections"]
        # and every other one is closed once its head or body deadline passed
        slow.wait_all_closed(timeout_s=LIMITS["body_timeout_s"] + 5)
    finally:
        slow.close()


def test_an_idle_keep_alive_connection_is_closed_after_the_keep_alive_timeout(fusion_port: int) -> None:
    with socket.create_connection(("127.0.0.1", fusion_port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        started = time.monotonic()
        received = b""
        while chunk := sock.recv(65536):  # until the server closes (this test's timeout: 10 s)
            received += chunk
        assert received.startswith(b"HTTP/1.1 200") and received.endswith(b'{"status":"ok"}')
        assert time.monotonic() - started < LIMITS["keep_alive_timeout_s"] + 3

"""One JSON error contract for every refusal, and a client that goes away is just that."""

from __future__ import annotations

import logging
import socket
from urllib.parse import urlsplit

import pytest
from fusion_testkit import INGEST_KEY, Fusion, error_of, wait_until


def test_a_trailing_slash_is_a_json_404_not_a_redirect(fusion: Fusion) -> None:
    client = fusion.query().http
    answer = client.get("/api/v1/views/demo/stats/", follow_redirects=False)
    status, code, message = error_of(answer)
    assert (status, code) == (404, "not_found")
    assert "'/api/v1/views/demo/stats'" in message  # says what to use instead
    assert answer.headers["content-type"] == "application/json"


def test_a_client_that_leaves_mid_body_is_one_log_line_not_an_unhandled_error(
    fusion: Fusion, caplog: pytest.LogCaptureFixture
) -> None:
    session = fusion.agent().open()
    address = urlsplit(fusion.url)
    head = (
        f"POST {session.url('/events')} HTTP/1.1\r\nHost: x\r\nX-API-Key: {INGEST_KEY}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    ).encode()
    with caplog.at_level(logging.INFO):
        with socket.create_connection((address.hostname, address.port)) as sock:
            sock.sendall(head + b'{"events": [')
        wait_until(lambda: any("disconnected" in r.getMessage() for r in caplog.records))
    disconnects = [r for r in caplog.records if "disconnected" in r.getMessage()]
    assert len(disconnects) == 1 and disconnects[0].exc_info is None
    assert disconnects[0].levelno == logging.INFO
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert fusion.client().get("/healthz").status_code == 200

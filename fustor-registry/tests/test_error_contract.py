"""One JSON error contract on a real Registry server: unknown routes, wrong methods and stray
trailing slashes answer ``{"error": {"code", "message"}}`` (never text/plain or HTML), and a
client that disconnects mid-request or mid-answer is logged as that — one line, no traceback."""

from __future__ import annotations

import io
import logging
import socket
import struct
from collections.abc import Iterator

import httpx
import pytest
from registry_testkit import Actor, Harness, serve, wait_for

from fustor_core.logs import KeyValueFormatter
from fustor_registry.api import create_app


@pytest.fixture
def server(harness: Harness) -> Iterator[str]:
    with serve(create_app(harness.registry.config, registry=harness.registry)) as url:
        yield url


@pytest.fixture
def log_text() -> Iterator[io.StringIO]:
    """Every log record of the process (the server runs in a thread), formatted as in production."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def assert_json_error(answer: httpx.Response, status: int, code: str) -> dict[str, str]:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["content-type"] == "application/json", answer.headers
    error: dict[str, str] = answer.json()["error"]
    assert error["code"] == code and error["message"], error
    assert set(answer.json()) == {"error"}
    return error


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/",
        "/api/v1",
        "/api/v1/",
        "/api/v1/nope",
        "/api/v1/keys/abc",
        "/api/v1/keys/-1",
        "/api/v1/users/a/b",
    ],
)
def test_unknown_routes_answer_json_404(server: str, path: str) -> None:
    assert_json_error(httpx.get(server + path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/api/v1/users", "GET"),
        ("PUT", "/api/v1/auth/login", "POST"),
        ("POST", "/healthz", "GET"),
        ("PATCH", "/api/v1/keys/verify", "POST"),
    ],
)
def test_wrong_methods_answer_json_405(server: str, method: str, path: str, allowed: str) -> None:
    answer = httpx.request(method, server + path)
    error = assert_json_error(answer, 405, "method_not_allowed")
    assert method in error["message"]
    assert allowed in answer.headers["allow"]


@pytest.mark.parametrize(
    ("method", "path", "target"),
    [
        ("GET", "/api/v1/users/", "/api/v1/users"),
        ("POST", "/api/v1/auth/login/", "/api/v1/auth/login"),
        ("GET", "/healthz/", "/healthz"),
        ("GET", "/api/v1/datastores/demo/keys/?x=1", "/api/v1/datastores/demo/keys"),
    ],
)
def test_a_trailing_slash_is_a_404_naming_the_route(server: str, method: str, path: str, target: str) -> None:
    """As on Fusion and the agent (one error mapping in core): no redirect, which a client
    would follow with its method and body only sometimes, but the path to use."""
    error = assert_json_error(httpx.request(method, server + path, follow_redirects=False), 404, "not_found")
    assert repr(target) in error["message"]


def records(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_client_gone_while_sending_its_body_is_one_line(server: str, log_text: io.StringIO) -> None:
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"username": "al'
        )
    wait_for(lambda: "client disconnected" in log_text.getvalue(), timeout=10)
    lines = records(log_text)
    gone = [line for line in lines if "client disconnected" in line]
    assert len(gone) == 1, lines
    assert "path=/api/v1/auth/login" in gone[0]
    assert not any("unexpected error" in line or "unhandled" in line or "Traceback" in line for line in lines)


def test_client_gone_while_receiving_the_answer_is_no_error(
    harness: Harness, server: str, log_text: io.StringIO
) -> None:
    """An answer is handed to the server in one piece, so a client that resets the connection
    while it is being transmitted is the server's business: nothing may be logged as an error."""
    root = harness.user("root", role="admin")
    for index in range(64):  # an answer of about 1 MiB: more than the socket buffers hold
        harness.ok(root, "POST", "/datastores", {"name": f"ds{index}", "settings": {"pad": "x" * 16000}}, 201)
    host, port = server.removeprefix("http://").split(":")
    for _ in range(3):
        sock = socket.create_connection((host, int(port)))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        token = root.headers["Authorization"]
        sock.sendall(f"GET /api/v1/datastores HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")  # the answer has started
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close with a reset
        sock.close()

    # the server goes on serving, and nothing was logged as an error
    assert httpx.get(server + "/api/v1/datastores", headers=root.headers).status_code == 200
    lines = records(log_text)
    assert not any("level=error" in line or "Traceback" in line or "unhandled" in line for line in lines), (
        lines
    )
    assert len([line for line in lines if "client disconnected" in line]) <= 3


def test_every_error_of_a_user_call_is_json(harness: Harness, server: str) -> None:
    user: Actor = harness.user("plain")
    new_user = {"username": "eve", "password": "password-123"}
    cases = [
        ("GET", "/api/v1/datastores/absent", None, 404, "not_found"),
        ("POST", "/api/v1/users", new_user, 403, "forbidden"),
        ("POST", "/api/v1/datastores", {"name": 1}, 422, "invalid"),
        ("GET", "/api/v1/service/datastores", None, 401, "unauthorized"),
    ]
    for method, path, body, status, code in cases:
        answer = httpx.request(method, server + path, headers=user.headers, json=body)
        assert_json_error(answer, status, code)

"""Test kit for the services' connection limits: clients that are slow on purpose.

Each service's test opens more of these than its ``connections.max_connections`` and checks
that a normal client is still served and that the slow ones are closed after the timeouts.
"""

from __future__ import annotations

import select
import socket
import time
from typing import Any

SLOW_KINDS = ("silent", "half_head", "half_body")
"""``silent``: connects and sends nothing; ``half_head``: part of a request head;
``half_body``: a whole head announcing a body, then part of the body."""


class SlowClients:
    """Raw sockets to ``host:port`` that never finish their request."""

    def __init__(self, host: str, port: int, path: str = "/healthz") -> None:
        self.host = host
        self.port = port
        self.path = path
        self.sockets: list[socket.socket] = []

    def open(self, count: int, kind: str) -> None:
        """Open ``count`` connections of ``kind`` (one of :data:`SLOW_KINDS`)."""
        for _ in range(count):
            sock = socket.create_connection((self.host, self.port), timeout=5)
            if kind == "half_head":
                sock.sendall(f"GET {self.path} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
            elif kind == "half_body":
                sock.sendall(
                    f"POST {self.path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    "Content-Length: 1000\r\n\r\n{".encode()
                )
            elif kind != "silent":
                raise ValueError(f"unknown kind {kind!r}")
            self.sockets.append(sock)

    def closed_by_server(self) -> int:
        """How many were closed by the server (end of stream or reset seen without blocking).

        Whatever the server wrote before closing (an error answer) is read and skipped.
        """
        closed = 0
        for sock in self.sockets:
            if sock.fileno() < 0:
                closed += 1
                continue
            try:
                while select.select([sock], [], [], 0)[0]:
                    if not sock.recv(65536):
                        sock.close()
                        closed += 1
                        break
            except OSError:  # reset by the server
                sock.close()
                closed += 1
        return closed

    def wait_all_closed(self, timeout_s: float) -> float:
        """Seconds until the server closed every one; AssertionError after ``timeout_s``."""
        start = time.monotonic()
        while True:
            closed = self.closed_by_server()
            if closed == len(self.sockets):
                return time.monotonic() - start
            if time.monotonic() - start > timeout_s:
                raise AssertionError(
                    f"{len(self.sockets) - closed} of {len(self.sockets)} slow connections still open"
                    f" after {timeout_s} s"
                )
            time.sleep(0.05)

    def close(self) -> None:
        for sock in self.sockets:
            sock.close()
        self.sockets.clear()


FUZZ_EXAMPLES = 20
"""Cases per operation and generation mode (positive, negative): bounds a fuzz run."""

FUZZ_REQUESTS: dict[str, int] = {}
"""Requests sent by :func:`fuzz`, per service (printed at the end of a test run)."""
FUZZ_FAILURES: dict[str, int] = {}
"""Operations that failed a check (a 5xx, an undocumented answer, invalid data accepted)."""


def report_fuzzing(terminalreporter: Any) -> None:
    """Print the requests :func:`fuzz` sent, once per test run (call it from
    ``pytest_terminal_summary`` of every conftest whose tests fuzz)."""
    if getattr(terminalreporter, "_fustor_fuzz_reported", False):
        return
    terminalreporter._fustor_fuzz_reported = True
    for service, count in FUZZ_REQUESTS.items():
        failing = FUZZ_FAILURES.get(service, 0)
        terminalreporter.write_line(
            f"schema fuzzing: {service}: {count} requests, {failing} failing operations"
            " (5xx, answers the OpenAPI document does not describe, invalid data accepted)"
        )


def fuzz(
    schema: Any, base_url: str, headers: dict[str, str], *, service: str, examples: int = FUZZ_EXAMPLES
) -> list[str]:
    """Send schemathesis-generated requests for every operation of ``schema`` to ``base_url``.

    Each answer is checked: no 5xx, a documented status, content type and body schema, and
    data the document calls invalid is refused. Returns one description per failing
    operation (empty: all good); the count of requests sent is added to :data:`FUZZ_REQUESTS`.
    Deterministic (``derandomize``), so a failure reproduces.
    """
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        negative_data_rejection,
        response_schema_conformance,
        status_code_conformance,
    )

    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
        negative_data_rejection,
    ]
    failures: list[str] = []

    def runner(operation: Any, mode: Any) -> Any:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=examples,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            FUZZ_REQUESTS[service] = FUZZ_REQUESTS.get(service, 0) + 1
            sent = dict(case.headers or {})
            # credentials: always on valid requests; on invalid ones only where the case has them
            # at all (a case about a missing credential must go without)
            for name, value in headers.items():
                if mode is GenerationMode.POSITIVE or any(key.lower() == name.lower() for key in sent):
                    sent = {key: v for key, v in sent.items() if key.lower() != name.lower()}
                    sent[name] = value
            case.headers = sent
            case.call_and_validate(base_url=base_url, checks=checks)

        return run

    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                runner(operation, mode)()
            except Unsatisfiable:
                continue  # nothing in the operation can be made invalid (no parameters, no body)
            except Exception as exc:  # every operation is fuzzed; all failures are reported
                failures.append(f"{operation.method.upper()} {operation.path} ({mode.value}): {exc}")
    FUZZ_FAILURES[service] = FUZZ_FAILURES.get(service, 0) + len(failures)
    return failures

"""Login throttling on a real ``fustor-registry serve`` process, with clients on several loopback
addresses (127.0.0.x are all local on Linux): a spoofed ``X-Forwarded-For`` neither bypasses the
limits nor reaches the log; a trusted proxy's header is used; an attacker cannot lock the owner
out; guessing stays slow.

The process is shared by the module; each test uses its own user names and source addresses, so
the throttle's per-name and per-address counts of one test never meet another's.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from registry_testkit import FAST_HASHING, PASSWORD

from fustor_core.testing import free_port, wait_for

MAX_FAILURES = 3
ADDRESS_MAX_FAILURES = 6
MAX_LOCKOUT_S = 2.0
PROXY = "127.0.0.9"
USERS = ("alice", "bob", "carol", "dave", "erin")
CREATE = ("--password-stdin", "--username")


CLI = [sys.executable, "-m", "fustor_registry.cli"]


@dataclass
class Registry:
    url: str
    log_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    home = tmp_path_factory.mktemp("throttled-registry")
    port = free_port()
    config = home / "registry.yaml"
    config.write_text(
        json.dumps(
            {
                "database_url": f"sqlite:///{home / 'registry.db'}",
                "secret_key": Fernet.generate_key().decode(),
                "password_hash": FAST_HASHING,
                "login_max_failures": MAX_FAILURES,
                "login_window_s": 120,
                "login_address_max_failures": ADDRESS_MAX_FAILURES,
                "login_max_lockout_s": MAX_LOCKOUT_S,
                "trusted_proxies": [PROXY],
            }
        )
    )
    for user in USERS:
        subprocess.run(
            [*CLI, "admin", "create-user", "--config", str(config), *CREATE, user],
            input=PASSWORD + "\n",
            text=True,
            check=True,
            capture_output=True,
        )
    log_path = home / "registry.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*CLI, "serve", "--config", str(config), "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: process.poll() is not None or answers(url + "/healthz"), timeout=30)
        assert process.poll() is None, log_path.read_text()
        yield Registry(url, log_path)
    finally:
        process.terminate()
        process.wait(timeout=30)


def client_from(address: str) -> httpx.Client:
    """A client whose connections come from ``address`` (the server sees it as the peer)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10)


def login(
    registry: Registry, source: str, username: str, password: str, forwarded_for: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    with client_from(source) as client:
        return client.post(
            registry.url + "/api/v1/auth/login",
            json={"username": username, "password": password},
            headers=headers,
        )


def fields(line: str) -> dict[str, str]:
    """A key=value log line as a dict (values may be double-quoted)."""
    return dict(part.partition("=")[::2] for part in shlex.split(line))


def log_records(registry: Registry, message: str, user_prefix: str) -> list[dict[str, str]]:
    records = [fields(line) for line in registry.log_lines() if line.startswith("ts=")]
    return [r for r in records if r.get("msg") == message and r.get("user", "").startswith(user_prefix)]


def test_rotating_forwarded_for_from_an_untrusted_peer_does_not_bypass_the_limit(registry: Registry) -> None:
    # password spraying: one guess per user name, each with a new spoofed address
    statuses = [
        login(registry, "127.0.0.1", f"spray{i}", "guess", forwarded_for=f"10.66.0.{i}").status_code
        for i in range(ADDRESS_MAX_FAILURES + 2)
    ]
    assert statuses[:ADDRESS_MAX_FAILURES] == [401] * ADDRESS_MAX_FAILURES
    assert statuses[ADDRESS_MAX_FAILURES:] == [429, 429], statuses

    # hammering one name while rotating the header: the pair rule holds too
    statuses = [
        login(registry, "127.0.0.5", "dave", "guess", forwarded_for=f"10.77.0.{i}").status_code
        for i in range(MAX_FAILURES + 2)
    ]
    assert statuses == [401] * MAX_FAILURES + [429, 429], statuses

    failed = log_records(registry, "login failed", "spray")
    assert len(failed) == ADDRESS_MAX_FAILURES and {r["client"] for r in failed} == {"127.0.0.1"}
    assert {r["client"] for r in log_records(registry, "login failed", "dave")} == {"127.0.0.5"}
    assert {r["client"] for r in log_records(registry, "login throttled", "spray")} == {"127.0.0.1"}
    logged = registry.log_lines()
    assert not any("10.66.0." in line or "10.77.0." in line for line in logged)  # spoofed: never logged


def test_a_trusted_proxys_forwarded_address_is_the_client(registry: Registry) -> None:
    assert login(registry, PROXY, "carol", PASSWORD, forwarded_for="198.51.100.8").status_code == 200
    # the left part of the header is whatever the client sent: ignored
    spoofed = "6.6.6.6, 198.51.100.7"
    statuses = [
        login(registry, PROXY, "carol", "guess", forwarded_for=spoofed).status_code
        for _ in range(MAX_FAILURES + 1)
    ]
    assert statuses == [401] * MAX_FAILURES + [429]
    # another client behind the same proxy is another address: the owner (known there) gets in
    assert login(registry, PROXY, "carol", PASSWORD, forwarded_for="198.51.100.8").status_code == 200

    failed = log_records(registry, "login failed", "carol")
    assert len(failed) == MAX_FAILURES
    assert all(r["client"] == "198.51.100.7" and r["via"] == PROXY for r in failed)
    assert not any("6.6.6.6" in line for line in registry.log_lines())
    throttled = log_records(registry, "login throttled", "carol")
    assert len(throttled) == 1 and throttled[0]["rule"] == "account+address"


def test_an_attacker_cannot_lock_the_owner_out(registry: Registry) -> None:
    assert login(registry, "127.0.0.3", "alice", PASSWORD).status_code == 200  # alice's usual address

    attacker = [login(registry, "127.0.0.2", "alice", "guess").status_code for _ in range(MAX_FAILURES + 20)]
    assert attacker == [401] * MAX_FAILURES + [429] * 20  # the attacker is stopped...

    started = time.monotonic()
    assert login(registry, "127.0.0.3", "alice", PASSWORD).status_code == 200  # ...the owner is not
    assert time.monotonic() - started < 1.0

    # from an address the account has never used, the owner waits at most the lockout cap
    answer = login(registry, "127.0.0.4", "alice", PASSWORD)
    if answer.status_code == 429:
        retry_after = int(answer.headers["retry-after"])
        assert retry_after <= MAX_LOCKOUT_S
        time.sleep(retry_after)
        answer = login(registry, "127.0.0.4", "alice", PASSWORD)
    assert answer.status_code == 200, answer.text


def test_guessing_from_many_addresses_is_slowed(registry: Registry) -> None:
    """Each failure of an account locks it (1 s, doubling, capped) for every unknown address."""
    outcomes: list[tuple[float, int]] = []
    started = time.monotonic()
    index = 0
    while time.monotonic() - started < 4.0:
        index += 1
        source = f"127.0.1.{index % 250 + 1}"  # a new address every try: only the account rule
        outcomes.append((time.monotonic() - started, login(registry, source, "bob", "guess").status_code))
    guesses = [at for at, status in outcomes if status == 401]
    refused = [at for at, status in outcomes if status == 429]
    assert refused, outcomes
    # the first MAX_FAILURES are free; after that a lock of 1 s, 2 s, 2 s... between guesses
    assert len(guesses) <= MAX_FAILURES + 3, guesses
    assert len(outcomes) > 3 * len(guesses)
    throttled = log_records(registry, "login throttled", "bob")
    assert throttled and {r["rule"] for r in throttled} == {"account"}

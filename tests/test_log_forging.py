"""A client cannot forge log lines: control characters in a user name (a Registry login needs no
account) or in an agent id (any ingest key opens a session) are written escaped, so every record
of the real services' logs is exactly one line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from fustor_core.testing import free_port, wait_for
from fustor_demo.processes import Service, command_path

FORGED_LINE = "ts=2030-01-01T00:00:00Z level=info msg=login user=root"
FORGED = "e\r\n" + FORGED_LINE + "\x1b[2K\u2028"  # a login name holds at most 64 characters
ESCAPED = "e\\r\\n" + FORGED_LINE + "\\x1b[2K\\u2028"


def _write(path: Path, config: dict[str, object]) -> Path:
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def _records(service: Service) -> list[str]:
    """The log's lines, split the way a line-oriented reader (journald, grep, tail) splits them."""
    text = service.log_path.read_bytes().decode("utf-8", errors="replace")
    return [line for line in text.replace("\r", "\n").split("\n") if line]


def _assert_one_line_per_record(lines: list[str]) -> None:
    forged = [line for line in lines if not line.startswith("ts=")]
    assert not forged, f"lines that are not records (forged or broken): {forged}"
    assert not any(line.startswith(FORGED_LINE) for line in lines)
    assert not any("\x1b" in line for line in lines)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    config = _write(
        tmp_path / "registry.yaml",
        {
            "database_url": f"sqlite:///{tmp_path / 'registry.db'}",
            "secret_key": Fernet.generate_key().decode(),
            "password_hash": {"time_cost": 1, "memory_cost_kib": 256, "parallelism": 1},
        },
    )
    service = Service(
        "registry",
        [command_path("fustor-registry"), "serve", "--config", str(config), "--port", str(port)],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/healthz",
    ).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        service.stop()
        _assert_one_line_per_record(_records(service))


def test_forged_user_name_at_login_is_one_escaped_line(tmp_path: Path, registry: str) -> None:
    answer = httpx.post(f"{registry}/api/v1/auth/login", json={"username": FORGED, "password": "guess"})
    assert answer.status_code == 401, answer.text

    log = Service("registry", [], log_dir=tmp_path)
    lines = _records(log)
    _assert_one_line_per_record(lines)
    failed = [line for line in lines if 'msg="login failed"' in line]
    assert len(failed) == 1, lines
    assert f'user="{ESCAPED}"' in failed[0]
    assert "client=127.0.0.1" in failed[0]


def test_forged_agent_id_at_session_open_is_one_escaped_line(tmp_path: Path) -> None:
    port = free_port()
    config = _write(
        tmp_path / "fusion.yaml",
        {"datastores": {"demo": {"api_keys": [{"key": "ingest-secret", "scopes": ["ingest"]}]}}},
    )
    fusion = Service(
        "fusion",
        [command_path("fustor-fusion"), "serve", "--config", str(config), "--port", str(port)],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/readyz",  # the view is open (journal loaded)
        env={"FUSTOR_HOME": str(tmp_path / "home")},
    ).start()
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ingest/sessions",
            json={"agent_id": FORGED, "source_uri": "fs:///x"},
            headers={"X-API-Key": "ingest-secret"},
        )
        assert answer.status_code == 201, answer.text
    finally:
        fusion.stop()

    lines = _records(fusion)
    _assert_one_line_per_record(lines)
    opened = [line for line in lines if 'msg="session opened"' in line]
    assert len(opened) == 1, lines
    assert f'agent="{ESCAPED}"' in opened[0]


# -- the same with --log-format json: one JSON object per line, the forged value read back exactly


def _json_records(service: Service) -> list[dict[str, object]]:
    """Every line of the log parsed as JSON (a line that is not one fails the test)."""
    entries = []
    for line in _records(service):
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"a line that is not a JSON record (forged or broken): {line!r}") from None
    assert entries, "no log lines"
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= set(entry), entry
    return entries


def test_json_logs_of_the_registry_keep_a_forged_login_in_its_field(tmp_path: Path) -> None:
    port = free_port()
    config = _write(
        tmp_path / "registry.yaml",
        {
            "database_url": f"sqlite:///{tmp_path / 'registry.db'}",
            "secret_key": Fernet.generate_key().decode(),
            "password_hash": {"time_cost": 1, "memory_cost_kib": 256, "parallelism": 1},
            "log_format": "json",  # the config key; the other services take the flag
        },
    )
    service = Service(
        "registry",
        [command_path("fustor-registry"), "serve", "--config", str(config), "--port", str(port)],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/healthz",
    ).start()
    try:
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/auth/login", json={"username": FORGED, "password": "guess"}
        )
        assert answer.status_code == 401, answer.text
    finally:
        service.stop()
    entries = _json_records(service)
    failed = [entry for entry in entries if entry["message"] == "login failed"]
    assert len(failed) == 1, entries
    assert failed[0]["user"] == FORGED and failed[0]["client"] == "127.0.0.1"
    assert failed[0]["level"] == "warning"


def test_json_logs_of_fusion_and_an_agent_carry_datastore_and_session(tmp_path: Path) -> None:
    port = free_port()
    config = _write(
        tmp_path / "fusion.yaml",
        {"datastores": {"demo": {"api_keys": [{"key": "ingest-secret", "scopes": ["ingest"]}]}}},
    )
    fusion = Service(
        "fusion",
        [*_serve("fustor-fusion", config, port), "--log-format", "json"],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/readyz",
        env={"FUSTOR_HOME": str(tmp_path / "home")},
    ).start()
    export = tmp_path / "export"
    export.mkdir()
    (export / "a-file").write_text("x")
    agent_config = _write(
        tmp_path / "agent.yaml",
        {
            "agent_id": FORGED.replace("\r\n", "-"),  # an agent id is one line, but may hold ESC
            "pipes": [
                {
                    "datastore": "demo",
                    "source": {"driver": "fs", "path": str(export)},
                    "pusher": {
                        "driver": "http",
                        "url": f"http://127.0.0.1:{port}",
                        "api_key": "ingest-secret",
                    },
                }
            ],
        },
    )
    api_port = free_port()
    agent = Service(
        "agent",
        [
            command_path("fustor-agent"),
            "run",
            "--config",
            str(agent_config),
            "--port",
            str(api_port),
            "--log-format",
            "json",
        ],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{api_port}/healthz",
        env={"FUSTOR_HOME": str(tmp_path / "agent-home")},
    ).start()
    try:
        wait_for(lambda: '"snapshot complete"' in (tmp_path / "agent.log").read_text(), 20, "the snapshot")
    finally:
        agent.stop()
        fusion.stop()

    opened = [entry for entry in _json_records(fusion) if entry["message"] == "session opened"]
    assert len(opened) == 1, opened
    assert opened[0]["datastore"] == "demo" and str(opened[0]["session"])
    assert opened[0]["agent"] == FORGED.replace("\r\n", "-")
    agent_entries = _json_records(agent)
    assert any(entry["message"] == "agent started" for entry in agent_entries)
    changed = [entry for entry in agent_entries if entry["message"] == "session changed"]
    assert changed and changed[0]["pipe"] == "demo" and changed[0]["session"] == opened[0]["session"]


def _serve(command: str, config: Path, port: int) -> list[str]:
    return [command_path(command), "serve", "--config", str(config), "--port", str(port)]

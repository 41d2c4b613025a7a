"""The command line, run as real subprocesses against the test database."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from registry_testkit import FAST_HASHING, SECRET_KEY, SERVICE_TOKEN, raw_rows, wait_for

from fustor_registry.cli import main
from fustor_registry.config import SECRET_KEY_ENV

CLI = [sys.executable, "-m", "fustor_registry.cli"]


@pytest.fixture
def config_file(database_url: str, tmp_path: Path) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "database_url": database_url,
                "secret_key": SECRET_KEY,
                "service_tokens": [SERVICE_TOKEN],
                "password_hash": FAST_HASHING,
            }
        )
    )
    return path


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != SECRET_KEY_ENV}
    env["FUSTOR_HOME"] = str(tmp_path / "home")
    return env


def run(tmp_path: Path, *args: str, stdin: str = "", check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, *args], input=stdin, capture_output=True, text=True, timeout=60, env=child_env(tmp_path)
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def run_json(tmp_path: Path, *args: str, stdin: str = "") -> Any:
    return json.loads(run(tmp_path, *args, "--json", stdin=stdin).stdout)


def test_admin_commands_script_a_registry(config_file: Path, database_url: str, tmp_path: Path) -> None:
    cfg = ["--config", str(config_file)]
    assert run_json(tmp_path, "db", "upgrade", *cfg)["revision"] == "0003"

    user = run_json(
        tmp_path,
        "admin",
        "create-user",
        *cfg,
        "--username",
        "ops",
        "--role",
        "admin",
        "--password-stdin",
        stdin="ops-password-1\n",
    )
    assert (user["username"], user["role"]) == ("ops", "admin")
    env = run_json(
        tmp_path,
        "admin",
        "create-storage-environment",
        *cfg,
        "--name",
        "lab",
        "--kind",
        "nfs",
        "--details",
        '{"server": "nfs1"}',
    )
    assert env["details"] == {"server": "nfs1"}
    run_json(
        tmp_path,
        "admin",
        "add-credential",
        *cfg,
        "--storage-environment",
        "lab",
        "--name",
        "mount",
        stdin="cli-credential-secret\n",
    )
    datastore = run_json(
        tmp_path,
        "admin",
        "create-datastore",
        *cfg,
        "--name",
        "demo",
        "--owner",
        "ops",
        "--fusion-url",
        "http://127.0.0.1:8102",
        "--storage-environment",
        "lab",
    )
    assert (datastore["name"], datastore["owner"], datastore["storage_environment"]) == ("demo", "ops", "lab")

    created = run_json(
        tmp_path,
        "admin",
        "create-key",
        *cfg,
        "--datastore",
        "demo",
        "--scopes",
        "ingest",
        "--label",
        "host-a",
    )
    plain = run(tmp_path, "admin", "create-key", *cfg, "--datastore", "demo", "--scopes", "query")
    plain_key = plain.stdout.strip()
    assert re.fullmatch(r"fk_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", plain_key), plain.stdout
    assert "shown only once" in plain.stderr and plain_key not in plain.stderr

    listed = run_json(tmp_path, "admin", "list-keys", *cfg)["keys"]
    assert [(k["prefix"], k["scopes"], k["state"], k["label"]) for k in listed] == [
        (created["prefix"], ["ingest"], "active", "host-a"),
        (plain_key[:11], ["query"], "active", ""),
    ]
    assert created["key"] not in json.dumps(listed) and plain_key not in json.dumps(listed)

    revoked = run_json(tmp_path, "admin", "revoke-key", *cfg, "--id", str(created["id"]))
    assert revoked["state"] == "revoked"

    dump = repr(raw_rows(database_url))
    for secret in ("ops-password-1", "cli-credential-secret", created["key"], plain_key):
        assert secret not in dump


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """The same entry point, called in this process (cheaper than a subprocess for error paths)."""
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_errors_are_reported_not_raised(
    config_file: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FUSTOR_HOME", str(tmp_path / "home"))
    cfg = ["--config", str(config_file)]
    assert (
        in_process(capsys, "admin", "create-user", *cfg, "--username", "ops", "--password", "p" * 10)[0] == 0
    )
    cases = [
        (["admin", "create-user", *cfg, "--username", "ops", "--password", "p" * 10], "already exists"),
        (
            ["admin", "create-user", *cfg, "--username", "x y", "--password", "p" * 10],
            "username: may contain only",
        ),
        (["admin", "create-datastore", *cfg, "--name", "no spaces"], "name: may contain only"),
        (
            ["admin", "create-key", *cfg, "--datastore", "nope", "--scopes", "ingest"],
            "no datastore named 'nope'",
        ),
        (
            ["admin", "create-key", *cfg, "--datastore", "nope", "--scopes", "admin"],
            "scopes.0: Input should be",
        ),
        (["admin", "revoke-key", *cfg, "--id", "999999"], "no API key with id 999999"),
        (
            ["admin", "create-storage-environment", *cfg, "--name", "e", "--kind", "nfs", "--details", "{"],
            "--details: not valid JSON",
        ),
        (["admin", "list-keys", "--config", str(tmp_path / "missing.yaml")], "cannot read config file"),
    ]
    for args, message in cases:
        code, out, err = in_process(capsys, *args)
        assert (code, out) == (2, ""), (args, out, err)
        assert message in err and "Traceback" not in err, (args, err)
    code, out, _ = in_process(capsys, "db", "current", *cfg, "--json")
    assert code == 0 and json.loads(out) == {"revision": "0003", "head": "0003"}


def test_serve_answers_on_loopback_and_stops(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = ["--config", str(config_file)]
    assert in_process(capsys, "admin", "create-datastore", *cfg, "--name", "demo")[0] == 0
    _, out, _ = in_process(
        capsys, "admin", "create-key", *cfg, "--datastore", "demo", "--scopes", "ingest", "--json"
    )
    key = json.loads(out)["key"]

    process = subprocess.Popen(
        [*CLI, "serve", *cfg, "--host", "127.0.0.1", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(tmp_path),
    )
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        found = wait_for(
            lambda: next(
                (m for line in list(lines) if (m := re.search(r"http://127\.0\.0\.1:(\d+)", line))), None
            ),
            timeout=30,
        )
        url = f"http://127.0.0.1:{found.group(1)}"
        assert httpx.get(url + "/api/v1/health").json() == {"status": "ok"}
        verified = httpx.post(
            url + "/api/v1/keys/verify",
            json={"key": key},
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        )
        assert verified.status_code == 200 and verified.json()["datastore"] == "demo"
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    reader.join(timeout=5)
    log = "".join(lines)
    assert "registry database ready" in log and key not in log


def test_serve_refuses_to_start_without_a_secret_key(database_url: str, tmp_path: Path) -> None:
    path = tmp_path / "nokey.yaml"
    path.write_text(yaml.safe_dump({"database_url": database_url}))
    done = subprocess.run(
        [*CLI, "serve", "--config", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        env=child_env(tmp_path),
    )
    assert done.returncode == 2
    assert "secret_key: required" in done.stderr and "Traceback" not in done.stderr


def test_gen_secret_key_prints_a_fernet_key(capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.fernet import Fernet

    code, out, _ = in_process(capsys, "gen-secret-key")
    assert code == 0
    Fernet(out.strip().encode())

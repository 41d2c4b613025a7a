"""Start-up configuration: the secret key is required outside demo mode; demo mode keeps one."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from starlette.testclient import TestClient

from fustor_core.errors import ConfigError
from fustor_registry.api import create_app
from fustor_registry.config import (
    SECRET_KEY_ENV,
    RegistryConfig,
    read_config,
    resolve_database_url,
    resolve_secret_key,
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FUSTOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(SECRET_KEY_ENV, raising=False)
    return tmp_path / "home"


def test_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    config = RegistryConfig(database_url=f"sqlite:///{tmp_path / 'r.db'}")
    with pytest.raises(ConfigError, match=r"secret_key: required .* `demo: true`"):
        create_app(config)
    assert not (tmp_path / "r.db").exists(), "nothing may be created before the refusal"


def test_secret_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv(SECRET_KEY_ENV, key.decode())
    assert resolve_secret_key(RegistryConfig()) == key
    assert resolve_secret_key(RegistryConfig(secret_key="  " + key.decode() + "\n")) == key


def test_a_malformed_secret_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_secret_key(RegistryConfig(secret_key="not-a-fernet-key-but-a-secret"))
    assert "not a Fernet key" in raised.value.message
    assert "not-a-fernet-key-but-a-secret" not in raised.value.message


def test_demo_mode_generates_and_keeps_a_key(isolated_home: Path) -> None:
    first = resolve_secret_key(RegistryConfig(demo=True))
    key_file = isolated_home / "registry" / "demo-secret.key"
    assert key_file.read_bytes() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert resolve_secret_key(RegistryConfig(demo=True)) == first
    Fernet(first)  # a usable key


def test_demo_defaults_to_sqlite_in_fustor_home(isolated_home: Path) -> None:
    config = RegistryConfig(
        demo=True, password_hash={"time_cost": 1, "memory_cost_kib": 256, "parallelism": 1}
    )
    assert resolve_database_url(config) == f"sqlite:///{isolated_home / 'registry' / 'registry.db'}"
    with TestClient(create_app(config)) as client:
        assert client.get("/api/v1/health").status_code == 200
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/readyz").json() == {"status": "ready"}
    assert (isolated_home / "registry" / "registry.db").exists()


def test_config_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("port: not-a-number\nsecret_kye: x\n")
    with pytest.raises(ConfigError) as raised:
        read_config(path)
    assert "port" in raised.value.message and "secret_kye" in raised.value.message


def test_an_unusable_database_url_is_a_config_error() -> None:
    config = RegistryConfig(database_url="nosuchdialect://x", demo=True)
    with pytest.raises(ConfigError, match="database_url"):
        create_app(config)


def test_service_tokens_must_not_be_guessable(tmp_path: Path) -> None:
    path = tmp_path / "registry.yaml"
    path.write_text("service_tokens: [short-token]\n")
    with pytest.raises(ConfigError) as raised:
        read_config(path)
    assert "service_tokens.0: String should have at least 16 characters" in raised.value.message
    assert "short-token" not in raised.value.message

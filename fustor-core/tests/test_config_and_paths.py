"""Config loading names the offending key; FUSTOR_HOME relocates all state."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from fustor_core.config import ArbitrationSettings, FustorConfig, load_config
from fustor_core.errors import ConfigError
from fustor_core.paths import data_dir, fustor_home


class Inner(FustorConfig):
    port: int = 1


class Sample(FustorConfig):
    name: str
    inner: Inner = Inner()


def test_config_error_names_the_bad_nested_key(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: x\ninner:\n  port: not-a-number\n")
    with pytest.raises(ConfigError) as info:
        load_config(Sample, path)
    assert "inner.port" in info.value.message
    assert str(path) in info.value.message


def test_unknown_keys_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("name: x\nnmae: y\n")
    with pytest.raises(ConfigError, match="nmae"):
        load_config(Sample, path)


def test_unreadable_and_malformed_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(Sample, tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(Sample, bad)
    scalar = tmp_path / "scalar.yaml"
    scalar.write_text("just a string\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Sample, scalar)


def test_arbitration_settings_hold_only_engine_settings() -> None:
    """A rule's knobs are its own options (``rules:``), not core's: core refuses them."""
    assert set(ArbitrationSettings.model_fields) == {"hot_window_s", "future_tolerance_s"}
    with pytest.raises(ValidationError, match="tombstone_ttl_s"):
        ArbitrationSettings.model_validate({"tombstone_ttl_s": 10})


def test_fustor_home_overrides_the_platform_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSTOR_HOME", str(tmp_path / "home"))
    assert fustor_home() == tmp_path / "home"
    created = data_dir("registry")
    assert created == tmp_path / "home" / "registry" and created.is_dir()


def test_without_override_home_is_a_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FUSTOR_HOME", raising=False)
    assert "fustor" in str(fustor_home())

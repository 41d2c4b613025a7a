"""fusion.yaml: the smallest config of earlier versions works as written; mistakes name their key."""

from __future__ import annotations

from pathlib import Path

import pytest
from fusion_testkit import MINIMAL

from fustor_core.errors import ConfigError
from fustor_fusion.config import DEFAULT_PORT, load_fusion_config, parse_fusion_config


def test_the_minimal_config_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "fusion.yaml"
    path.write_text(MINIMAL)
    config = load_fusion_config(path)
    assert config.port == DEFAULT_PORT == 8102
    assert config.session_timeout_s == 30
    assert config.datastores["demo"].storage.backend == "memory"
    assert [k.key for k in config.datastores["demo"].api_keys] == ["ingest-secret", "query-secret"]
    assert config.arbitration().hot_window_s == 600
    assert config.rules == {"merge-tombstone": {"ttl_s": 3600}}, "the deprecated key, where it lives now"
    assert config.deprecated_keys() == [("tombstone_ttl_s", "rules.merge-tombstone.ttl_s")]


@pytest.mark.parametrize(
    ("data", "named"),
    [
        (
            {"datastores": {"demo": {"api_keys": [{"key": "k", "scopes": ["admin"]}]}}},
            "datastores.demo.api_keys.0.scopes.0",
        ),
        ({"datastores": {"demo": {"api_keys": [{"scopes": ["query"]}]}}}, "datastores.demo.api_keys.0.key"),
        ({"session_timeout": 30, "datastores": {"demo": {}}}, "session_timeout"),
        ({"session_timeout_s": -1, "datastores": {"demo": {}}}, "session_timeout_s"),
        ({"port": "eighty", "datastores": {"demo": {}}}, "port"),
        ({"datastores": {}}, "datastores"),
        ({}, "datastores"),
        (
            {"datastores": {"demo": {"storage": {"backend": "memory", "colour": 1}}}},
            "datastores.demo.storage.colour",
        ),
        ({"datastores": {"de mo/x": {}}}, "de mo/x"),
        ({"log_level": "loud", "datastores": {"demo": {}}}, "log_level"),
    ],
)
def test_config_errors_name_the_bad_key(data: dict, named: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fusion_config(data)
    assert named in caught.value.message


def test_a_key_listed_under_two_datastores_is_refused() -> None:
    data = {
        "datastores": {
            "a": {"api_keys": [{"key": "same", "scopes": ["query"]}]},
            "b": {"api_keys": [{"key": "same", "scopes": ["ingest"]}]},
        }
    }
    with pytest.raises(ConfigError) as caught:
        parse_fusion_config(data)
    assert "b.api_keys.0.key" in caught.value.message
    assert "'a'" in caught.value.message


def test_unreadable_and_malformed_files_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml"):
        load_fusion_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("datastores: [unclosed")
    with pytest.raises(ConfigError, match=r"bad\.yaml: invalid YAML"):
        load_fusion_config(bad)

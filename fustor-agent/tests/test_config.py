"""The agent config: the smallest file of earlier versions works as written; mistakes name their key."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fustor_agent.config import DEFAULT_API_PORT, load_agent_config
from fustor_core.errors import ConfigError

MINIMAL = """
agent_id: host-a             # defaults to the host name
pipes:
  - datastore: demo
    source: {driver: fs, path: /mnt/export}
    pusher: {driver: http, url: "http://127.0.0.1:8102", api_key: "ingest-secret"}
    audit_interval_s: 600
    sentinel_interval_s: 120
    heartbeat_interval_s: 10
"""


def test_the_minimal_config_of_earlier_versions_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(MINIMAL)
    config = load_agent_config(path)
    pipe = config.pipes[0]
    assert config.agent_id == "host-a"
    assert pipe.pipe_name == "demo"
    assert pipe.source.driver == "fs" and pipe.source.options() == {"path": "/mnt/export"}
    assert pipe.pusher.options() == {"url": "http://127.0.0.1:8102", "api_key": "ingest-secret"}
    assert (pipe.batch_size, pipe.flush_interval_s, pipe.bus_capacity) == (5000, 0.0, 20_000)
    assert config.api.port == DEFAULT_API_PORT and config.api.host == "127.0.0.1"
    # the flat keys of earlier versions are deprecated spellings of the modes' own options
    assert pipe.mode_sections() == {"audit": {"interval_s": 600}, "sentinel": {"interval_s": 120}}
    assert config.deprecated_keys() == [
        ("pipes.0.audit_interval_s", "pipes.0.modes.audit.interval_s"),
        ("pipes.0.sentinel_interval_s", "pipes.0.modes.sentinel.interval_s"),
    ]


def test_agent_id_defaults_to_the_host_name(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(MINIMAL.replace("agent_id: host-a", ""))
    assert load_agent_config(path).agent_id == socket.gethostname()


@pytest.mark.parametrize(
    ("replace", "key"),
    [
        (("audit_interval_s: 600", "audit_intervall_s: 600"), "pipes.0.audit_intervall_s"),
        (("audit_interval_s: 600", "audit_interval_s: soon"), "pipes.0.audit_interval_s"),
        (
            ("audit_interval_s: 600", "modes: {audit: 600}"),
            "pipes.0.modes: Value error, audit: true, false or",
        ),
        (("datastore: demo", "datastor: demo"), "pipes.0.datastore"),
    ],
)
def test_mistakes_name_the_offending_key(tmp_path: Path, replace: tuple[str, str], key: str) -> None:
    path = tmp_path / "agent.yaml"
    path.write_text(MINIMAL.replace(*replace))
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_agent_config(path)


def test_two_pipes_need_distinct_names(tmp_path: Path) -> None:
    path = tmp_path / "agent.yaml"
    pipe = MINIMAL.split("pipes:\n")[1]
    path.write_text("pipes:\n" + pipe + pipe)
    with pytest.raises(ConfigError, match="two pipes are named 'demo'"):
        load_agent_config(path)

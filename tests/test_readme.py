"""The README's config examples load, and its curl lines work against a real Fusion."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fustor_agent.agent import Agent
from fustor_agent.config import AgentConfig
from fustor_core.config import parse_config
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import free_port, wait_for
from fustor_demo.processes import Service, command_path
from fustor_fusion.config import FusionConfig
from fustor_fusion.rule_options import RuleOptions
from fustor_registry.config import RegistryConfig

README = Path(__file__).parents[1] / "README.md"
MODELS: dict[str, type[Any]] = {
    "registry.yaml": RegistryConfig,
    "fusion.yaml": FusionConfig,
    "agent.yaml": AgentConfig,
}


def yaml_blocks() -> list[tuple[str, str]]:
    """(file name from the block's first comment, block text) for every yaml block."""
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    return [(block.splitlines()[0].lstrip("# ").strip(), block) for block in blocks]


def curl_lines() -> list[str]:
    section = README.read_text().split("## Querying", 1)[1]
    return [line for line in re.findall(r"^curl .*$", section, flags=re.M)]


def test_every_config_example_in_the_readme_is_valid(tmp_path: Path) -> None:
    """Valid as the services read it at start: the rules' and modes' options included, against
    the installed plugins (a deprecated key would be logged: none is used). The agent's watched
    directory is this test's (the source refuses a path that is not a directory)."""
    blocks = yaml_blocks()
    assert {name for name, _ in blocks} >= set(MODELS), "an example per service"
    pm = get_plugin_manager()
    for name, text in blocks:
        data = yaml.safe_load(text)
        for pipe in data.get("pipes", []) if name == "agent.yaml" else []:
            pipe["source"]["path"] = str(tmp_path)
        config = parse_config(MODELS[name], data, source=f"README {name}")
        if isinstance(config, FusionConfig):
            rules = RuleOptions(config, pm)
            for datastore, settings in config.datastores.items():
                rules.for_datastore(datastore, settings)
            assert config.deprecated_keys() == []
        elif isinstance(config, AgentConfig):
            Agent(config, plugin_manager=pm)
            assert config.deprecated_keys() == []


def _static_fusion_config() -> dict[str, Any]:
    for name, text in yaml_blocks():
        data = yaml.safe_load(text)
        if name == "fusion.yaml" and "datastores" in data:
            return dict(data)
    raise AssertionError("the README has no static-key fusion.yaml")


@pytest.fixture
def readme_fusion(tmp_path: Path) -> Any:
    port = free_port()
    config = tmp_path / "fusion.yaml"
    # the markers the change-feed example says it configures
    rules = {"merge-completion": {"markers": ["*.done"]}}
    config.write_text(yaml.safe_dump({**_static_fusion_config(), "port": port, "rules": rules}))
    service = Service(
        "fusion",
        [command_path("fustor-fusion"), "serve", "--config", str(config)],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{port}/readyz",
        env={"FUSTOR_HOME": str(tmp_path / "home")},  # its own journal, as on a real host
    ).start()
    yield port
    service.stop()


def _ingest_sample(port: int) -> None:
    base = f"http://127.0.0.1:{port}/api/v1/ingest/sessions"
    headers = {"X-API-Key": "ingest-secret"}
    with httpx.Client(headers=headers) as client:
        session = client.post(base, json={"agent_id": "readme", "source_uri": "test"}).json()
        sid = session["session_id"]
        now_ms = int(time.time() * 1000)
        rows = [
            {"path": f"/upload/u1/data_{i}.dat", "size": 10 * i, "mtime": time.time() - 3600}
            for i in range(5)
        ]
        assert client.post(f"{base}/{sid}/snapshot/start").status_code == 200
        answer = client.post(
            f"{base}/{sid}/events",
            json={
                "seq": 1,
                "events": [
                    {"message_source": "snapshot", "event_type": "insert", "index": now_ms, "rows": rows}
                ],
            },
        )
        assert answer.json()["accepted"] == 5
        assert client.post(f"{base}/{sid}/snapshot/end", json={"after_seq": 1}).status_code == 200


def test_every_curl_example_in_the_readme_answers(readme_fusion: int) -> None:
    _ingest_sample(readme_fusion)
    lines = curl_lines()
    assert len(lines) >= 5
    for line in lines:
        argv = [arg.replace("127.0.0.1:8102", f"127.0.0.1:{readme_fusion}") for arg in shlex.split(line)]
        done = subprocess.run(
            ["curl", "--fail-with-body", *argv[1:]], capture_output=True, text=True, timeout=30
        )
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        body = json.loads(done.stdout)
        assert "error" not in body if isinstance(body, dict) else True
    stats = json.loads(
        subprocess.run(
            [
                "curl",
                "-s",
                "-H",
                "X-API-Key: query-secret",
                f"http://127.0.0.1:{readme_fusion}/api/v1/views/demo/stats",
            ],
            capture_output=True,
            text=True,
        ).stdout
    )
    assert stats["files"] == 5


def python_block(name: str) -> str:
    """The python block whose first line is ``# <name>``."""
    for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S):
        if block.splitlines()[0].strip() == f"# {name}":
            return str(block)
    raise AssertionError(f"the README has no python block {name}")


def test_the_change_feed_consumer_in_the_readme_prints_each_finished_upload_once(
    readme_fusion: int, tmp_path: Path
) -> None:
    script = tmp_path / "follow_uploads.py"
    script.write_text(
        python_block("follow_uploads.py").replace("127.0.0.1:8102", f"127.0.0.1:{readme_fusion}")
    )
    consumer = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    try:
        reader = threading.Thread(target=lambda: lines.extend(consumer.stdout or ()), daemon=True)
        reader.start()
        base = f"http://127.0.0.1:{readme_fusion}"
        with httpx.Client(base_url=base, headers={"X-API-Key": "query-secret"}) as query:
            # the consumer has its start position once the feed was read by somebody
            wait_for(lambda: query.get("/api/v1/views/demo/stats").json()["change_feed"]["waiting"] == 1)
        old = time.time() - 3600
        _send_rows(
            readme_fusion,
            [
                {"path": "/upload/run1/a.dat", "size": 10, "mtime": old},
                {"path": "/upload/run1/b.dat", "size": 20, "mtime": old},
                {"path": "/upload/run2/c.dat", "size": 30, "mtime": old},  # no marker: not finished
                {"path": "/elsewhere/d.dat", "size": 40, "mtime": old},
                {"path": "/upload/run1/COPY.done", "size": 0, "mtime": old + 1},  # the marker, last
            ],
        )
        wait_for(lambda: len(lines) >= 1)
        consumer.terminate()
        consumer.wait(10)
        reader.join(10)
    finally:
        if consumer.poll() is None:
            consumer.kill()
    assert lines == ["finished /upload/run1\n"]


def _send_rows(port: int, rows: list[dict[str, Any]]) -> None:
    base = f"http://127.0.0.1:{port}/api/v1/ingest/sessions"
    with httpx.Client(headers={"X-API-Key": "ingest-secret"}) as client:
        sid = client.post(base, json={"agent_id": "readme-feed"}).json()["session_id"]
        body = {
            "events": [
                {
                    "message_source": "snapshot",
                    "event_type": "insert",
                    "index": int(time.time() * 1000),
                    "rows": rows,
                }
            ]
        }
        answer = client.post(f"{base}/{sid}/events", json=body)
        assert answer.status_code == 200 and answer.json()["accepted"] == len(rows), answer.text

"""The sync-mode example of ``docs/write-a-source-or-pusher.md`` works as printed: installed as a
third-party distribution, configured through its own options in ``agent.yaml`` and run on
request through the agent API, against a real Fusion and a real agent."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fustor_core.testing import free_port, install_distribution, wait_for
from fustor_demo.processes import Service, command_path

GUIDE = Path(__file__).parents[1] / "docs" / "write-a-source-or-pusher.md"
TOKEN = "guide-token"


def guide_block(heading: str, language: str) -> str:
    """The first ``language`` code block after ``heading`` in the guide."""
    section = GUIDE.read_text().split(heading, 1)[1]
    found = re.search(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert found, f"no {language} block after {heading!r}"
    return found.group(1)


SECTION = "## A sync mode: a full snapshot every night"


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The guide's mode installed as pip would leave it (a dist-info with its entry point)."""
    site = tmp_path / "site"
    site.mkdir()
    install_distribution(
        site,
        "fustor-sync-nightly",
        "0.1.0",
        modules={"fustor_sync_nightly": guide_block(SECTION, "python")},
        entry_points={"fustor": {"sync-nightly-snapshot": "fustor_sync_nightly"}},
        requires=["fustor-core>=0.1,<0.2"],
    )
    return site


def agent_yaml(tmp_path: Path, tree: Path, fusion_url: str, api_port: int, modes: dict[str, Any]) -> Path:
    """The guide's pipe, pointed at this test's tree and Fusion, with ``modes`` for its options."""
    pipe = yaml.safe_load(guide_block(SECTION, "yaml"))["pipes"][0]
    assert set(pipe["modes"]) == {"nightly-snapshot", "sentinel"}
    pipe.update(source={"driver": "fs", "path": str(tree)}, modes=modes)
    pipe["pusher"]["url"] = fusion_url
    config = tmp_path / "agent.yaml"
    config.write_text(yaml.safe_dump({"api": {"port": api_port, "token": TOKEN}, "pipes": [pipe]}))
    return config


def test_the_guides_mode_is_configured_and_triggered(tmp_path: Path, site: Path) -> None:
    tree = tmp_path / "export"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_bytes(b"x")
    fusion_port, api_port = free_port(), free_port()
    fusion_url = f"http://127.0.0.1:{fusion_port}"
    (tmp_path / "fusion.yaml").write_text(
        yaml.safe_dump(
            {
                "port": fusion_port,
                "datastores": {"demo": {"api_keys": [{"key": "ingest-secret", "scopes": ["ingest"]}]}},
            }
        )
    )
    env = {"PYTHONPATH": str(site), "FUSTOR_HOME": str(tmp_path / "home")}
    fusion = Service(
        "fusion",
        [command_path("fustor-fusion"), "serve", "--config", str(tmp_path / "fusion.yaml")],
        log_dir=tmp_path,
        ready_url=f"{fusion_url}/readyz",
        env=env,
    ).start()
    modes = {"nightly-snapshot": {"interval_s": 3600}, "sentinel": False, "audit": False}
    config = agent_yaml(tmp_path, tree, fusion_url, api_port, modes)
    agent = Service(
        "agent",
        [command_path("fustor-agent"), "run", "--config", str(config)],
        log_dir=tmp_path,
        ready_url=f"http://127.0.0.1:{api_port}/healthz",
        env=env,
    ).start()
    try:
        api = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=10)

        def pipe() -> dict[str, Any]:
            return api.get("/api/v1/status").json()["pipes"][0]  # type: ignore[no-any-return]

        wait_for(lambda: "nightly-snapshot" in pipe()["modes"], 20, "the guide's mode to start (leading)")
        assert pipe()["triggerable"] == ["snapshot", "nightly-snapshot"]
        assert not pipe()["modes"]["nightly-snapshot"].get("runs"), "its interval is an hour"
        answer = api.post("/api/v1/pipes/demo/nightly-snapshot", headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 202, answer.text
        wait_for(lambda: pipe()["modes"]["nightly-snapshot"].get("runs") == 1, 20, "the triggered snapshot")
        assert pipe()["counters"]["snapshot_rows_read"] == 2 * 3, "the tenure's snapshot and the guide's"
    finally:
        agent.stop()
        fusion.stop()

    # its options are validated like the built-in modes'
    bad = agent_yaml(tmp_path, tree, fusion_url, api_port, {"nightly-snapshot": {"interval_s": 0}})
    done = subprocess.run(
        [command_path("fustor-agent"), "run", "--config", str(bad)],
        env={**env, "PATH": str(Path(command_path("fustor-agent")).parent)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "pipes.0.modes.nightly-snapshot.interval_s: Input should be greater than 0" in done.stderr

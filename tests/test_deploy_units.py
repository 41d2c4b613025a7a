"""The example systemd units in docs/deploy/ carry the keys the services rely on, start the
commands with arguments the commands accept, and pass ``systemd-analyze verify``."""

from __future__ import annotations

import argparse
import configparser
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fustor_agent.cli import build_parser as agent_parser
from fustor_agent.config import AgentConfig
from fustor_fusion.cli import build_parser as fusion_parser
from fustor_registry.cli import build_parser as registry_parser

DEPLOY = Path(__file__).resolve().parents[1] / "docs" / "deploy"
UNITS: dict[str, tuple[str, Callable[[], argparse.ArgumentParser]]] = {
    "fustor-fusion.service": ("fustor-fusion", fusion_parser),
    "fustor-agent.service": ("fustor-agent", agent_parser),
    "fustor-registry.service": ("fustor-registry", registry_parser),
}


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=True, interpolation=None, comment_prefixes=("#", ";"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    parser.read_string((DEPLOY / name).read_text())
    return parser


def _seconds(value: str) -> float:
    units = {"min": 60.0, "ms": 0.001, "s": 1.0, "h": 3600.0}
    for suffix, factor in units.items():
        if value.endswith(suffix) and value[: -len(suffix)].isdigit():
            return int(value[: -len(suffix)]) * factor
    assert value.isdigit(), value
    return float(value)


def test_every_service_has_an_example_unit() -> None:
    assert sorted(path.name for path in DEPLOY.glob("*.service")) == sorted(UNITS)


@pytest.mark.parametrize("name", sorted(UNITS))
def test_a_unit_has_the_keys_the_service_relies_on(name: str) -> None:
    unit = _unit(name)
    service = unit["Service"]
    assert service["Type"] == "notify"  # the service sends READY=1 (fustor_core.notify)
    assert service["NotifyAccess"] == "main"  # sent by the main process itself
    assert _seconds(service["WatchdogSec"]) > 0  # pinged every WatchdogSec/2 from the event loop
    assert service["Restart"] == "on-failure"  # what a missed watchdog or a crash leads to
    assert _seconds(service["TimeoutStartSec"]) >= 60  # READY waits for views / a session
    assert "FUSTOR_HOME=" in service["Environment"]
    assert unit["Install"]["WantedBy"] == "multi-user.target"
    assert "network-online.target" in unit["Unit"]["After"]


@pytest.mark.parametrize("name", sorted(UNITS))
def test_the_command_line_is_one_the_command_accepts(name: str) -> None:
    command, build_parser = UNITS[name]
    argv = shlex.split(_unit(name)["Service"]["ExecStart"])
    assert Path(argv[0]).name == command and Path(argv[0]).is_absolute()
    args = build_parser().parse_args(argv[1:])  # argparse exits on an unknown flag
    assert args.command in ("serve", "run")
    assert args.config.startswith("/etc/fustor/")


def test_the_agent_gets_time_to_deliver_its_queue_before_systemd_kills_it() -> None:
    stop = _seconds(_unit("fustor-agent.service")["Service"]["TimeoutStopSec"])
    assert stop > AgentConfig.model_fields["shutdown_timeout_s"].default


def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing (.ci/run installs systemd)")
        pytest.skip("systemd-analyze is not installed")
    scripts = Path(sys.executable).parent
    for name in UNITS:  # the executables must exist for verify: point them at this environment
        text = (DEPLOY / name).read_text().replace("/opt/fustor/bin/", f"{scripts}/")
        (tmp_path / name).write_text(text)
    result = subprocess.run(
        [analyze, "verify", *(str(tmp_path / name) for name in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    complaints = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert result.returncode == 0 and complaints == [], result.stderr

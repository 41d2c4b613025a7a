"""A plugin author's mistake stops every service at start, naming the plugin and the mistake.

The services run as real processes (as an operator starts them) with a throwaway distribution
on PYTHONPATH, installed the way pip would leave it (a dist-info with entry points), next to
the real default plugins.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fustor_core import __version__
from fustor_core.testing import install_distribution
from fustor_demo.processes import command_path

MISSPELT = """
from fustor_core import hookimpl

@hookimpl
def fustor_filter_batchs(view, batch):
    pass
"""

MISTAKES = {
    "misspelt hook": (
        {
            "modules": {"fake_typo_rule": MISSPELT},
            "entry_points": {"fustor": {"typo-rule": "fake_typo_rule"}},
        },
        "plugin 'typo-rule' (distribution fake-plugin 0.3.0, entry point fake_typo_rule): "
        "implements unknown hook 'fustor_filter_batchs' (did you mean 'fustor_filter_batch'?)",
    ),
    "built for another core": (
        {
            "modules": {"fake_future_rule": "raise RuntimeError('must not be imported')\n"},
            "entry_points": {"fustor": {"future-rule": "fake_future_rule"}},
            "requires": ["fustor-core>=99,<100"],
        },
        "plugin 'future-rule' (distribution fake-plugin 0.3.0, entry point fake_future_rule): "
        f"built for fustor-core >=99,<100 but fustor-core {__version__} is installed",
    ),
}

SERVICES = {
    "fusion": (
        "fusion.yaml",
        "datastores:\n  demo:\n    api_keys: [{key: ingest-secret, scopes: [ingest]}]\n",
        ["fustor-fusion", "serve", "--port", "0"],
    ),
    "agent": (
        "agent.yaml",
        "pipes:\n"
        "  - datastore: demo\n"
        "    source: {driver: fs, path: TREE}\n"
        "    pusher: {driver: http, url: 'http://127.0.0.1:9', api_key: ingest-secret}\n",
        ["fustor-agent", "run"],
    ),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
@pytest.mark.parametrize("service", sorted(SERVICES))
def test_a_broken_plugin_stops_the_service_at_start(tmp_path: Path, service: str, mistake: str) -> None:
    layout, expected = MISTAKES[mistake]
    site = tmp_path / "site"
    site.mkdir()
    install_distribution(site, "fake-plugin", "0.3.0", **layout)
    config_name, config, argv = SERVICES[service]
    (tmp_path / "tree").mkdir()
    config_path = tmp_path / config_name
    config_path.write_text(config.replace("TREE", str(tmp_path / "tree")))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FUSTOR_")},
        "FUSTOR_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(site),
    }
    done = subprocess.run(
        [command_path(argv[0]), *argv[1:], "--config", str(config_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith(f"{argv[0]}: {expected}"), done.stderr

"""Core's test kit reaches every project through pytest's plugin entry point, not a conftest.

A throwaway project (one test file, no conftest) asks for the kit's fixtures; pytest finds them
through fustor-core's ``pytest11`` entry point, and without that plugin (``-p no:fustor``) they
do not exist. Importing the kit itself never imports pytest.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_TEST = """
from fustor_core.testing import DictStore, FakeSource, FakeSyncContext, RuleHarness


def test_the_kit_fixtures_are_there(rule_harness, sync_context, fake_source):
    assert rule_harness.__func__ is RuleHarness.for_plugin.__func__
    source = fake_source(files={"/f": (1.0, 2)})
    assert isinstance(source, FakeSource)
    context = sync_context(source, batch_size=3)
    assert isinstance(context, FakeSyncContext) and context.settings.batch_size == 3
"""


def run_pytest(project: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *options, str(project)],
        capture_output=True,
        text=True,
        cwd=project,
        timeout=120,
    )


def test_a_project_without_conftest_gets_the_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    ran = run_pytest(tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "1 passed" in ran.stdout


def test_the_fixtures_come_from_the_plugin(tmp_path: Path) -> None:
    (tmp_path / "test_project.py").write_text(PROJECT_TEST)
    ran = run_pytest(tmp_path, "-p", "no:fustor")
    assert ran.returncode != 0
    assert "fixture 'rule_harness' not found" in ran.stdout


def test_importing_the_kit_does_not_import_pytest() -> None:
    probe = "import sys, fustor_core.testing; print('pytest' in sys.modules, '_pytest' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True)
    assert loaded.stdout.split() == ["False", "False"]

"""The guides' test examples pass as printed.

Every Python block of ``docs/*.md`` whose first line names a file (``# quarantine.py``,
``# test_nightly_snapshot.py``) is written into a throwaway project; the guides' plugins (the
quarantine rule, the bounded storage backend, the dir journal) are "installed" under their entry
points (a ``*.dist-info`` on the path, as pip would leave it); then
pytest runs the project's test files in a child process, with nothing but what an author has:
the installed Fustor packages and core's pytest plugin — no conftest.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from fustor_core.testing import install_distribution

DOCS = Path(__file__).resolve().parents[1] / "docs"
GUIDE_PLUGINS = [
    ("fustor-merge-quarantine", "merge-quarantine", "quarantine"),
    ("fustor-storage-bounded", "storage-bounded", "bounded_store"),
    ("fustor-journal-dir", "journal-dir", "dir_journal"),
]
"""Distribution, entry point and module of each guide's plugin, as its "Package it" names them."""
FILE_BLOCK = re.compile(r"^( *)```python\n\1# (\w+\.py)\n(.*?)^\1```", re.S | re.M)


def example_files() -> dict[str, str]:
    """File name -> source of every named Python block of the guides (indentation removed)."""
    files: dict[str, str] = {}
    for guide in sorted(DOCS.glob("*.md")):
        for indent, name, body in FILE_BLOCK.findall(guide.read_text(encoding="utf-8")):
            assert name not in files, f"{guide.name}: two examples are called {name}"
            files[name] = "".join(line[len(indent) :] + "\n" for line in body.splitlines())
    return files


def test_every_guide_example_test_passes(tmp_path: Path) -> None:
    files = example_files()
    tests = sorted(name for name in files if name.startswith("test_"))
    assert {
        "test_quarantine.py",
        "test_nightly_snapshot.py",
        "test_store_contract.py",
        "test_bounded_store.py",
        "test_dir_journal.py",
    } <= set(tests)
    project = tmp_path / "project"
    project.mkdir()
    for name, source in files.items():
        (project / name).write_text(source, encoding="utf-8")
    for distribution, entry, module in GUIDE_PLUGINS:
        install_distribution(project, distribution, entry_points={"fustor": {entry: module}})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(project), os.environ.get("PYTHONPATH", "")])}
    ran = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    summary = ran.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary and "skipped" not in summary, summary

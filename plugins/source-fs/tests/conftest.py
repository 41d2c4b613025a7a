"""Fixtures of the file-system source tests (helpers live in ``fs_testkit``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "kit"))  # the repository's test kit

from faultfs import FaultFs, faultfs_unavailable_reason
from fs_testkit import remove_tree


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """An empty watched root; removed afterwards even when a test made it very deep."""
    root = tmp_path / "export"
    root.mkdir()
    yield root
    if root.exists():
        remove_tree(root)


@pytest.fixture
def faulty(tmp_path: Path) -> Iterator[Any]:
    """A FUSE mount of an empty backing directory that fails what the test tells it to
    (``faulty.fail("/d/f", "getattr", error="EIO")``); ``faulty.mountpoint`` is the root to watch,
    ``faulty.backing`` where to build the tree without going through the faults."""
    reason = faultfs_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the FUSE fault-injection tests must run in CI, but {reason}")
        pytest.skip(reason)
    with FaultFs(tmp_path / "backing", tmp_path / "mnt") as mounted:
        yield mounted

"""Fixtures of the file-system source tests (helpers live in ``fs_testkit``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fs_testkit import remove_tree


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    """An empty watched root; removed afterwards even when a test made it very deep."""
    root = tmp_path / "export"
    root.mkdir()
    yield root
    if root.exists():
        remove_tree(root)

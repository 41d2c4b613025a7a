"""The file-system source keeps core's source contract (fustor_core.testing.source_contract)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fustor_core.testing.source_contract import SourceContract
from fustor_source_fs import FsSource


class TestFsSource(SourceContract):
    @pytest.fixture
    def listed(self, tree: Path) -> set[str]:
        for directory in ("a", "a/b", "c"):
            (tree / directory).mkdir()
        for name in ("a/f", "a/b/g", "h"):
            (tree / name).write_bytes(b"x")
        return {"/a", "/a/b", "/c", "/a/f", "/a/b/g", "/h"}

    @pytest.fixture
    def source(self, listed: set[str], tree: Path) -> Iterator[FsSource]:
        source = FsSource.from_config({"path": str(tree)})
        yield source
        source.close()

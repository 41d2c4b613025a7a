"""The manifest source keeps core's source contract, and its options are validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_manifest import ManifestOptions, ManifestSource

from fustor_core.errors import ConfigError
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing.source_contract import SourceContract


class TestManifestSource(SourceContract):
    @pytest.fixture
    def listed(self, tmp_path: Path) -> set[str]:
        (tmp_path / "manifest.txt").write_text("runs/\nruns/r1.fastq\nruns/old/\nruns/old/r0.fastq\nREADME\n")
        return {"/runs", "/runs/r1.fastq", "/runs/old", "/runs/old/r0.fastq", "/README"}

    @pytest.fixture
    def source(self, listed: set[str], tmp_path: Path) -> ManifestSource:
        return ManifestSource(ManifestOptions(manifest=tmp_path / "manifest.txt"))


def test_the_driver_is_registered_and_validates_its_section(tmp_path: Path) -> None:
    drivers: dict[str, object] = {}
    get_plugin_manager(only=["source-manifest"]).hook.fustor_source_drivers(register=drivers.__setitem__)
    factory = drivers["manifest"]
    assert callable(factory)
    assert factory({"manifest": str(tmp_path / "m.txt")}).uri == f"manifest://{tmp_path / 'm.txt'}"
    with pytest.raises(ConfigError, match=r"source: manifes: Extra inputs are not permitted"):
        factory({"manifest": "m.txt", "manifes": "typo"})

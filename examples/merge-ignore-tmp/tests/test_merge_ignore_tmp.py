"""The example changes Fusion's behaviour when installed, and not otherwise.

"Installed" is simulated the way Python sees it: a ``*.dist-info`` directory with METADATA and
entry_points.txt on ``sys.path``. Nothing is pip-installed and no Fustor package is edited; the
plugin manager finds the rule by entry point exactly as it would in production.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.plugins import describe_plugins, get_plugin_manager
from fustor_fusion.engine import View

EXAMPLE_SRC = Path(__file__).resolve().parents[1] / "src"
PLUGINS = [
    "storage-memory",
    "merge-mtime",
    "merge-tombstone",
    "merge-suspect",
    "merge-blindspot",
    "merge-ignore-tmp",
]
NOW = 1_700_000_000.0


@pytest.fixture(autouse=True)
def importable_example(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The example's code is importable in every test; only its metadata makes it installed."""
    monkeypatch.syspath_prepend(str(EXAMPLE_SRC))
    yield
    sys.modules.pop("merge_ignore_tmp", None)


def install_metadata(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist_info = site / "merge_ignore_tmp-0.1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: merge-ignore-tmp\nVersion: 0.1.0\n")
    (dist_info / "entry_points.txt").write_text("[fustor]\nmerge-ignore-tmp = merge_ignore_tmp\n")
    monkeypatch.syspath_prepend(str(site))


def flags_after_upload_scenario() -> dict[str, tuple[bool, bool]]:
    """Hot files arrive by snapshot, others are found by an audit where no agent watches.

    Returns path -> (integrity_suspect, agent_missing).
    """
    pm = get_plugin_manager(only=PLUGINS)
    view = View("demo", pm, ArbitrationSettings(), now=lambda: NOW)

    def send(source: MessageSource, *rows: Row) -> None:
        view.apply_event(
            Event(message_source=source, event_type=EventType.INSERT, index=int(NOW * 1000), rows=list(rows))
        )

    send(MessageSource.SNAPSHOT, Row(path="/up", is_dir=True, mtime=NOW - 10))
    send(
        MessageSource.SNAPSHOT,
        Row(path="/up/run.bin", mtime=NOW - 5),
        Row(path="/up/run.bin.part", mtime=NOW - 5),
    )
    view.audit_start("leader")
    send(
        MessageSource.AUDIT,
        Row(path="/up", is_dir=True, mtime=NOW - 1),
        *(
            Row(path=p, mtime=NOW - 1, parent_path="/up", parent_mtime=NOW - 1)
            for p in ("/up/run.bin", "/up/run.bin.part", "/up/sheet.csv", "/up/sheet.csv.tmp")
        ),
    )
    view.audit_end("leader")
    children = view.tree("/up", depth=1)["children"]
    return {child["path"]: (child["integrity_suspect"], child["agent_missing"]) for child in children}


def test_without_the_example_scratch_files_are_suspect_and_blind_spot_additions() -> None:
    pm = get_plugin_manager(only=PLUGINS)
    assert not pm.has_plugin("merge-ignore-tmp"), "importable is not installed: no entry point"
    flags = flags_after_upload_scenario()
    assert flags["/up/run.bin.part"] == (True, True)
    assert flags["/up/sheet.csv.tmp"] == (True, True)
    assert flags["/up/sheet.csv"] == (True, True)


def test_installed_example_is_discovered_and_scratch_files_are_never_flagged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_metadata(tmp_path, monkeypatch)
    described = {info.name: info for info in describe_plugins(get_plugin_manager(only=PLUGINS))}
    assert described["merge-ignore-tmp"].distribution == "merge-ignore-tmp"
    assert described["merge-ignore-tmp"].version == "0.1.0"
    assert described["merge-ignore-tmp"].hooks == ("fustor_batch_applied",)

    flags = flags_after_upload_scenario()
    assert flags["/up/run.bin.part"] == (False, False)
    assert flags["/up/sheet.csv.tmp"] == (False, False)
    assert flags["/up/sheet.csv"] == (True, True), "ordinary files keep the default policy"
    assert flags["/up/run.bin"] == (True, True)


def test_installed_example_is_left_out_with_fustor_disable_plugins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install_metadata(tmp_path, monkeypatch)
    monkeypatch.setenv("FUSTOR_DISABLE_PLUGINS", "merge-ignore-tmp")
    assert not get_plugin_manager(only=PLUGINS).has_plugin("merge-ignore-tmp")
    assert flags_after_upload_scenario()["/up/run.bin.part"] == (True, True)

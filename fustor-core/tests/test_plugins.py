"""The plugin manager loads entry points of group 'fustor' and can be narrowed."""

import json

import pytest

from fustor_core import hookimpl
from fustor_core.cli import main
from fustor_core.errors import PluginError
from fustor_core.plugins import describe_plugins, get_plugin_manager, require_registry


def _names(pm) -> set[str]:  # type: ignore[no-untyped-def]
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def test_installed_default_plugins_load_through_entry_points() -> None:
    names = _names(get_plugin_manager())
    assert {"merge-tombstone", "merge-mtime", "storage-memory"} <= names


def test_only_and_exclude_arguments_narrow_what_loads() -> None:
    assert _names(get_plugin_manager(only=["merge-tombstone"])) == {"merge-tombstone"}
    assert "merge-tombstone" not in _names(get_plugin_manager(exclude=["merge-tombstone"]))
    # distribution names work too
    assert _names(get_plugin_manager(only=["fustor-merge-mtime"])) == {"merge-mtime"}


def test_environment_variables_narrow_what_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSTOR_DISABLE_PLUGINS", "merge-suspect, merge-blindspot")
    names = _names(get_plugin_manager())
    assert "merge-suspect" not in names and "merge-blindspot" not in names
    assert "merge-tombstone" in names
    monkeypatch.setenv("FUSTOR_PLUGINS", "storage-memory")
    assert _names(get_plugin_manager()) == {"storage-memory"}


class _Registers:
    @hookimpl
    def fustor_sync_modes(self, register):  # type: ignore[no-untyped-def]
        register("twice", object)


def test_two_plugins_registering_one_name_is_a_clear_error() -> None:
    pm = get_plugin_manager(only=[], extra=[_Registers(), _Registers()])
    with pytest.raises(PluginError, match="twice"):
        require_registry(pm, "fustor_sync_modes", "sync mode")


def test_describe_lists_distribution_version_and_hooks() -> None:
    pm = get_plugin_manager(only=["merge-tombstone"], extra=[_Registers()])
    infos = {info.name: info for info in describe_plugins(pm)}
    tomb = infos["merge-tombstone"]
    assert tomb.distribution == "fustor-merge-tombstone" and tomb.version == "0.1.0"
    assert "fustor_filter_batch" in tomb.hooks
    assert any(info.distribution == "(registered in code)" for info in infos.values())


def test_fustor_plugins_command_prints_each_plugin(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["storage-memory"]["distribution"] == "fustor-storage-memory"
    assert "fustor_tree_store" in listed["storage-memory"]["hooks"]
    assert main(["plugins"]) == 0
    assert "merge-tombstone" in capsys.readouterr().out

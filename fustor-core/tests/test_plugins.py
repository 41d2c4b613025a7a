"""The plugin manager loads entry points of group 'fustor' and can be narrowed.

The tests install two throwaway distributions (a dist-info with entry points on sys.path, which
is all "installed" means to importlib.metadata), so core is tested without any real plugin.
"""

from __future__ import annotations

import json
from pathlib import Path

import pluggy
import pytest

from fustor_core import hookimpl
from fustor_core.cli import build_parser
from fustor_core.commands import run_subcommand
from fustor_core.errors import PluginError
from fustor_core.plugins import describe_plugins, get_plugin_manager, require_registry

ALPHA = """
from fustor_core import hookimpl

@hookimpl
def fustor_view_stats(view):
    return {"alpha": 1}
"""
BETA = """
from fustor_core import hookimpl

@hookimpl
def fustor_sync_modes(register):
    register("beta-mode", object)
"""


def _install(site: Path, dist: str, version: str, entry: str, module: str, source: str) -> None:
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[fustor]\n{entry} = {module}\n")


@pytest.fixture
def fake_plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _install(tmp_path, "fake-alpha", "1.2.3", "alpha", "fake_alpha_plugin", ALPHA)
    _install(tmp_path, "fake-beta", "0.1.0", "beta", "fake_beta_plugin", BETA)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("FUSTOR_PLUGINS", raising=False)
    monkeypatch.delenv("FUSTOR_DISABLE_PLUGINS", raising=False)


def _names(pm: pluggy.PluginManager) -> set[str]:
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


def test_installed_plugins_load_through_entry_points(fake_plugins: None) -> None:
    assert {"alpha", "beta"} <= _names(get_plugin_manager())


def test_only_and_exclude_arguments_narrow_what_loads(fake_plugins: None) -> None:
    assert _names(get_plugin_manager(only=["alpha"])) == {"alpha"}
    narrowed = _names(get_plugin_manager(exclude=["alpha"]))
    assert "alpha" not in narrowed and "beta" in narrowed
    assert _names(get_plugin_manager(only=["fake-beta"])) == {"beta"}  # distribution names work too


def test_environment_variables_narrow_what_loads(fake_plugins: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSTOR_DISABLE_PLUGINS", "alpha, nothing-such")
    names = _names(get_plugin_manager())
    assert "alpha" not in names and "beta" in names
    monkeypatch.setenv("FUSTOR_PLUGINS", "alpha")
    monkeypatch.delenv("FUSTOR_DISABLE_PLUGINS")
    assert _names(get_plugin_manager()) == {"alpha"}


def test_a_plugin_that_fails_to_import_is_named_in_the_error(fake_plugins: None, tmp_path: Path) -> None:
    _install(tmp_path, "fake-broken", "0.0.1", "broken", "fake_broken_plugin", "raise RuntimeError('boom')\n")
    with pytest.raises(PluginError, match=r"'broken'.*boom"):
        get_plugin_manager(only=["broken"])


class _Registers:
    @hookimpl
    def fustor_sync_modes(self, register):  # type: ignore[no-untyped-def]
        register("twice", object)


def test_two_plugins_registering_one_name_is_a_clear_error() -> None:
    pm = get_plugin_manager(only=[], extra=[_Registers(), _Registers()])
    with pytest.raises(PluginError, match="twice"):
        require_registry(pm, "fustor_sync_modes", "sync mode")


def test_register_style_hooks_collect_factories(fake_plugins: None) -> None:
    modes = require_registry(get_plugin_manager(only=["beta"]), "fustor_sync_modes", "sync mode")
    assert modes == {"beta-mode": object}


def test_describe_lists_distribution_version_and_hooks(fake_plugins: None) -> None:
    pm = get_plugin_manager(only=["alpha"], extra=[_Registers()])
    infos = {info.name: info for info in describe_plugins(pm)}
    assert infos["alpha"].distribution == "fake-alpha" and infos["alpha"].version == "1.2.3"
    assert infos["alpha"].hooks == ("fustor_view_stats",)
    assert any(info.distribution == "(registered in code)" for info in infos.values())


def test_fustor_plugins_command_prints_each_plugin(
    fake_plugins: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_subcommand(build_parser(), ["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["beta"] == {
        "name": "beta",
        "distribution": "fake-beta",
        "version": "0.1.0",
        "hooks": ["fustor_sync_modes"],
    }
    assert run_subcommand(build_parser(), ["plugins"]) == 0
    assert "fake-alpha 1.2.3" in capsys.readouterr().out


def test_errors_become_one_line_and_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_subcommand(build_parser(), ["demo", "/definitely/not/a/dir"]) == 2
    assert "not a directory" in capsys.readouterr().err

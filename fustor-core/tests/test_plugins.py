"""The plugin manager loads entry points of group 'fustor', can be narrowed, and catches mistakes.

The tests install throwaway distributions (``fustor_core.testing.install_distribution``: a
dist-info with METADATA and entry points on sys.path, which is all "installed" means to
importlib.metadata), so core is tested without any real plugin.
"""

from __future__ import annotations

import json
import logging
import tomllib
from pathlib import Path

import pluggy
import pytest
from packaging.requirements import Requirement

from fustor_core import __version__, hookimpl
from fustor_core.commands import run_subcommand
from fustor_core.errors import PluginError
from fustor_core.plugins import (
    FustorPluginManager,
    PluginInfo,
    describe_plugins,
    get_plugin_manager,
    require_registry,
)
from fustor_core.testing import install_distribution

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
MISSPELT = """
from fustor_core import hookimpl

@hookimpl
def fustor_filter_batchs(view, batch):
    batch.drop(0, "never called: the hook does not exist")
"""
NOT_TO_BE_IMPORTED = "raise RuntimeError('a plugin built for another core was imported')\n"


def _install(
    site: Path,
    dist: str,
    version: str,
    entry: str,
    module: str,
    source: str,
    *,
    requires: tuple[str, ...] = (),
) -> None:
    """A plugin distribution with one entry point of group 'fustor' and one module."""
    entry_points = {"fustor": {entry: module}}
    install_distribution(
        site, dist, version, entry_points=entry_points, modules={module: source}, requires=requires
    )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty site directory on sys.path, and no plugin selection from the environment."""
    monkeypatch.syspath_prepend(str(tmp_path))
    for variable in ("FUSTOR_PLUGINS", "FUSTOR_DISABLE_PLUGINS", "FUSTOR_TRACE_PLUGINS"):
        monkeypatch.delenv(variable, raising=False)
    return tmp_path


@pytest.fixture
def fake_plugins(site: Path) -> Path:
    _install(site, "fake-alpha", "1.2.3", "alpha", "fake_alpha_plugin", ALPHA)
    _install(site, "fake-beta", "0.1.0", "beta", "fake_beta_plugin", BETA)
    return site


def _names(pm: pluggy.PluginManager) -> set[str]:
    return {name for name, plugin in pm.list_name_plugin() if plugin is not None}


# --------------------------------------------------------------------------------------------
# loading and narrowing
# --------------------------------------------------------------------------------------------


def test_installed_plugins_load_through_entry_points(fake_plugins: Path) -> None:
    pm = get_plugin_manager()
    assert isinstance(pm, FustorPluginManager) and isinstance(pm, pluggy.PluginManager)
    assert {"alpha", "beta"} <= _names(pm)


def test_only_and_exclude_arguments_narrow_what_loads(fake_plugins: Path) -> None:
    assert _names(get_plugin_manager(only=["alpha"])) == {"alpha"}
    narrowed = _names(get_plugin_manager(exclude=["alpha"]))
    assert "alpha" not in narrowed and "beta" in narrowed
    assert _names(get_plugin_manager(only=["fake-beta"])) == {"beta"}  # distribution names work too


def test_environment_variables_narrow_what_loads(fake_plugins: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FUSTOR_DISABLE_PLUGINS", "alpha, nothing-such")
    names = _names(get_plugin_manager())
    assert "alpha" not in names and "beta" in names
    monkeypatch.setenv("FUSTOR_PLUGINS", "alpha")
    monkeypatch.delenv("FUSTOR_DISABLE_PLUGINS")
    assert _names(get_plugin_manager()) == {"alpha"}


def test_a_plugin_that_fails_to_import_is_named_in_the_error(fake_plugins: Path) -> None:
    _install(
        fake_plugins, "fake-broken", "0.0.1", "broken", "fake_broken_plugin", "raise RuntimeError('boom')\n"
    )
    with pytest.raises(PluginError, match=r"'broken' \(distribution fake-broken 0\.0\.1.*boom"):
        get_plugin_manager(only=["broken"])


class _Registers:
    @hookimpl
    def fustor_sync_modes(self, register):  # type: ignore[no-untyped-def]
        register("twice", object)


def test_two_plugins_registering_one_name_is_a_clear_error() -> None:
    pm = get_plugin_manager(only=[], extra=[_Registers(), _Registers()])
    with pytest.raises(PluginError, match="twice"):
        require_registry(pm, "fustor_sync_modes", "sync mode")


def test_register_style_hooks_collect_factories(fake_plugins: Path) -> None:
    modes = require_registry(get_plugin_manager(only=["beta"]), "fustor_sync_modes", "sync mode")
    assert modes == {"beta-mode": object}


def test_describe_lists_distribution_version_and_hooks(fake_plugins: Path) -> None:
    pm = get_plugin_manager(only=["alpha"], extra=[_Registers()])
    infos = {info.name: info for info in describe_plugins(pm)}
    assert infos["alpha"].distribution == "fake-alpha" and infos["alpha"].version == "1.2.3"
    assert infos["alpha"].hooks == ("fustor_view_stats",)
    assert infos["alpha"].entry_point == "fake_alpha_plugin"
    assert any(info.distribution == "(registered in code)" for info in infos.values())


def test_fustor_plugins_command_prints_each_plugin(
    fake_plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_subcommand(_fustor_parser(), ["plugins", "--json"]) == 0
    listed = {entry["name"]: entry for entry in json.loads(capsys.readouterr().out)}
    assert listed["beta"] == {
        "name": "beta",
        "distribution": "fake-beta",
        "version": "0.1.0",
        "entry_point": "fake_beta_plugin",
        "core": None,
        "hooks": ["fustor_sync_modes"],
        "error": None,
    }
    assert run_subcommand(_fustor_parser(), ["plugins"]) == 0
    assert "fake-alpha 1.2.3" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# mistakes: a misspelt hook, an implementation that does not fit its hook
# --------------------------------------------------------------------------------------------


def test_a_misspelt_hook_fails_at_start_naming_the_plugin_and_the_hook(site: Path) -> None:
    _install(site, "fake-typo", "0.3.0", "typo", "fake_typo_plugin", MISSPELT)
    with pytest.raises(PluginError) as raised:
        get_plugin_manager()
    message = raised.value.message
    assert "'typo' (distribution fake-typo 0.3.0, entry point fake_typo_plugin)" in message
    assert "unknown hook 'fustor_filter_batchs' (did you mean 'fustor_filter_batch'?)" in message


def test_fustor_plugins_shows_a_misspelt_hook_and_fails(
    fake_plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _install(fake_plugins, "fake-typo", "0.3.0", "typo", "fake_typo_plugin", MISSPELT)
    assert run_subcommand(_fustor_parser(), ["plugins"]) == 2
    out, err = capsys.readouterr()
    assert "fake-alpha 1.2.3" in out  # the healthy plugins are still listed
    assert "ERROR: implements unknown hook 'fustor_filter_batchs'" in out
    assert err.startswith("fustor: plugin 'typo' (distribution fake-typo 0.3.0")


def test_a_hook_implementation_asking_for_an_unknown_argument_is_named(site: Path) -> None:
    source = "from fustor_core import hookimpl\n\n@hookimpl\ndef fustor_tick(view, now, extra):\n    pass\n"
    _install(site, "fake-args", "1.0.0", "args", "fake_args_plugin", source)
    with pytest.raises(PluginError, match=r"'args' \(distribution fake-args 1\.0\.0.*'extra'"):
        get_plugin_manager()


def test_a_misspelt_hook_registered_in_code_is_caught_too(site: Path) -> None:
    class Typo:
        @hookimpl
        def fustor_view_stat(self, view):  # type: ignore[no-untyped-def]
            return {}

    with pytest.raises(PluginError, match=r"unknown hook 'fustor_view_stat'.*'fustor_view_stats'"):
        get_plugin_manager(only=[], extra=[Typo()])


# --------------------------------------------------------------------------------------------
# the core range a plugin was built for
# --------------------------------------------------------------------------------------------


def test_a_plugin_built_for_another_core_is_refused_before_it_is_imported(site: Path) -> None:
    requires = ("fustor-core (>=99,<100)",)
    _install(
        site, "fake-future", "5.0.0", "future", "fake_future_plugin", NOT_TO_BE_IMPORTED, requires=requires
    )
    with pytest.raises(PluginError) as raised:
        get_plugin_manager()
    assert raised.value.message == (
        "plugin 'future' (distribution fake-future 5.0.0, entry point fake_future_plugin): "
        f"built for fustor-core >=99,<100 but fustor-core {__version__} is installed; "
        "install a release of fake-future made for this core"
    )


def test_fustor_plugins_shows_an_incompatible_plugin_as_an_error(
    fake_plugins: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    requires = ("fustor-core<0.0.1",)
    _install(
        fake_plugins, "fake-old", "0.0.1", "old", "fake_old_plugin", NOT_TO_BE_IMPORTED, requires=requires
    )
    assert run_subcommand(_fustor_parser(), ["plugins", "--json"]) == 2
    out, err = capsys.readouterr()
    listed = {entry["name"]: entry for entry in json.loads(out)}
    assert listed["old"]["core"] == "<0.0.1" and listed["old"]["hooks"] == []
    assert listed["old"]["error"].startswith("built for fustor-core <0.0.1 but fustor-core")
    assert listed["alpha"]["error"] is None
    assert "plugin 'old' (distribution fake-old 0.0.1" in err


def test_a_plugin_whose_range_includes_this_core_loads_and_shows_its_range(site: Path) -> None:
    requires = (
        f"fustor-core>={__version__}",
        "fustor-core>=99; extra == 'legacy'",  # only for an extra: not what the plugin runs on
        "pyyaml>=6",
    )
    _install(site, "fake-fits", "2.0.0", "fits", "fake_fits_plugin", ALPHA, requires=requires)
    pm = get_plugin_manager()
    assert "fits" in _names(pm)
    assert pm.info("fits") == PluginInfo(
        "fits", "fake-fits", "2.0.0", entry_point="fake_fits_plugin", core=f">={__version__}"
    )


def test_every_plugin_in_this_repository_declares_a_bounded_core_range() -> None:
    """What the check above relies on: each built-in plugin says which cores it supports."""
    root = Path(__file__).resolve().parents[2]
    pyprojects = sorted(
        [*root.glob("plugins/*/pyproject.toml"), *root.glob("tests/plugins/*/pyproject.toml")]
    )
    assert pyprojects
    for pyproject in pyprojects:
        dependencies = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
        (core,) = [Requirement(d) for d in dependencies if Requirement(d).name == "fustor-core"]
        operators = {spec.operator for spec in core.specifier}
        assert {">=", "<"} <= operators, f"{pyproject}: declare fustor-core>=X,<Y"
        assert core.specifier.contains(__version__), f"{pyproject}: {core} excludes this core"


# --------------------------------------------------------------------------------------------
# tracing
# --------------------------------------------------------------------------------------------


def test_trace_env_logs_every_hook_call_with_its_plugins_and_duration(
    fake_plugins: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="fustor_core.plugins.trace")
    quiet = get_plugin_manager(only=["alpha", "beta"])
    quiet.hook.fustor_view_stats(view=None)
    assert not caplog.records  # nothing unless asked for

    monkeypatch.setenv("FUSTOR_TRACE_PLUGINS", "1")
    in_code = _Registers()
    pm = get_plugin_manager(only=["alpha", "beta"], extra=[in_code])
    assert pm.hook.fustor_view_stats(view=None) == [{"alpha": 1}]
    pm.hook.fustor_sync_modes(register=lambda name, factory: None)
    calls = [record.fields for record in caplog.records]  # type: ignore[attr-defined]
    # plugins in the order pluggy calls them: the last registered first
    assert [(call["hook"], call["plugins"]) for call in calls] == [
        ("fustor_view_stats", "alpha"),
        ("fustor_sync_modes", f"{pm.get_name(in_code)},beta"),
    ]
    assert all(float(call["ms"]) >= 0 for call in calls)
    assert all(record.getMessage() == "hook call" for record in caplog.records)


def test_a_traced_hook_that_raises_is_logged_with_the_error(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Failing:
        @hookimpl
        def fustor_tick(self, view, now):  # type: ignore[no-untyped-def]
            raise ValueError("tick failed")

    caplog.set_level(logging.INFO, logger="fustor_core.plugins.trace")
    pm = get_plugin_manager(only=[], extra=[Failing()], trace=True)
    with pytest.raises(ValueError):
        pm.hook.fustor_tick(view=None, now=0.0)
    (record,) = caplog.records
    assert record.fields["hook"] == "fustor_tick" and record.fields["error"] == "ValueError"  # type: ignore[attr-defined]


def _fustor_parser():  # type: ignore[no-untyped-def]
    from fustor_core.cli import build_parser

    return build_parser()

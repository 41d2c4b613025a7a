"""Plugin-owned options: registration names the plugins behind a clash, sections are validated
with their full key path, deprecated flat keys fold into their plugin's section."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from fustor_core import hookimpl
from fustor_core.config import FustorConfig
from fustor_core.errors import ConfigError, PluginError
from fustor_core.options import (
    build_options,
    check_names,
    default_options,
    fold_legacy_keys,
    rule_option_models,
    view_options,
)
from fustor_core.plugins import call_each, collect_registrations, excluded_plugins, get_plugin_manager
from fustor_core.testing import install_distribution


class TtlOptions(FustorConfig):
    ttl_s: float = Field(default=60.0, ge=0)
    max_entries: int = Field(default=10, ge=1)


class Rule:
    @hookimpl
    def fustor_rule_options(self, register: Any) -> None:
        register("my-rule", TtlOptions)

    @hookimpl
    def fustor_view_stats(self) -> dict[str, Any]:
        return {"mine": 1}


class NotAModel:
    @hookimpl
    def fustor_rule_options(self, register: Any) -> None:
        register("bad", dict)


class Modes:
    @hookimpl
    def fustor_sync_modes(self, register: Any) -> None:
        register("nightly", object, options=TtlOptions)
        register("plain", object)


def test_registrations_keep_the_factory_its_options_and_who_registered_it() -> None:
    pm = get_plugin_manager(only=[], extra=[Modes()])
    registered = collect_registrations(pm, "fustor_sync_modes", "sync mode")
    assert registered["nightly"].options is TtlOptions and registered["plain"].options is None
    assert registered["nightly"].plugin == registered["plain"].plugin == pm.get_name(pm.get_plugins().pop())


def test_two_plugins_registering_one_options_name_are_named() -> None:
    pm = get_plugin_manager(only=[], extra=[Rule(), Rule()])
    with pytest.raises(PluginError, match=r"two plugins register the rule options 'my-rule': .* and "):
        rule_option_models(pm)


def test_options_must_be_a_pydantic_model() -> None:
    with pytest.raises(PluginError, match=r"the options of rule 'bad' must be a pydantic model class"):
        rule_option_models(get_plugin_manager(only=[], extra=[NotAModel()]))


def test_a_section_is_validated_with_its_full_key_path() -> None:
    assert build_options(TtlOptions, {"ttl_s": 5}, where="rules.my-rule") == TtlOptions(ttl_s=5)
    assert build_options(TtlOptions, None, where="rules.my-rule") == TtlOptions()
    with pytest.raises(ConfigError) as caught:
        build_options(
            TtlOptions, {"ttl_s": -1, "max_entries": 0, "ttl": 3}, where="datastores.d.rules.my-rule"
        )
    assert caught.value.message == (
        "datastores.d.rules.my-rule.ttl_s: Input should be greater than or equal to 0; "
        "datastores.d.rules.my-rule.max_entries: Input should be greater than or equal to 1; "
        "datastores.d.rules.my-rule.ttl: Extra inputs are not permitted"
    )


def test_an_option_given_by_its_deprecated_key_is_named_by_that_key() -> None:
    with pytest.raises(ConfigError) as caught:
        build_options(TtlOptions, {"ttl_s": -1}, where="rules.my-rule", aliases={"ttl_s": "my_ttl_s"})
    assert caught.value.message == (
        "my_ttl_s (deprecated; now rules.my-rule.ttl_s): Input should be greater than or equal to 0"
    )


def test_unknown_names_are_errors_listing_the_registered_ones(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("test.options")
    assert check_names(["a"], {"a", "b"}, where="rules", kind="rule", excluded=(), logger=log) == ["a"]
    with pytest.raises(ConfigError, match=r"^rules\.c: no rule 'c' is installed \(installed rules: a, b\)$"):
        check_names(["c"], {"a", "b"}, where="rules", kind="rule", excluded=(), logger=log)


@pytest.mark.parametrize(
    ("name", "excluded"),
    [("merge-x", {"merge-x"}), ("audit", {"sync-audit", "fustor-sync-audit"})],
)
def test_the_options_of_an_excluded_plugin_are_ignored_with_a_warning(
    caplog: pytest.LogCaptureFixture, name: str, excluded: set[str]
) -> None:
    log = logging.getLogger("test.options")
    with caplog.at_level(logging.WARNING, logger="test.options"):
        known = check_names([name], {"other"}, where="modes", kind="mode", excluded=excluded, logger=log)
    assert known == []
    [record] = caplog.records
    assert record.fields["key"] == f"modes.{name}"  # type: ignore[attr-defined]


def test_deprecated_flat_keys_fold_into_their_plugins_section() -> None:
    legacy = {"old_ttl": ("rule", "ttl_s"), "old_max": ("rule", "max_entries"), "other_ttl": ("off", "ttl_s")}
    sections: dict[str, Any] = {"rule": {"max_entries": 5}, "off": False}
    aliases = fold_legacy_keys({"old_ttl": 1, "other_ttl": 2}, legacy, sections, where="rules")
    assert sections == {"rule": {"max_entries": 5, "ttl_s": 1}, "off": False}, "a plugin turned off stays off"
    assert aliases == {"rule": {"ttl_s": "old_ttl"}}
    with pytest.raises(ValueError, match=r"old_max is a deprecated spelling of rules\.rule\.max_entries"):
        fold_legacy_keys({"old_max": 1}, legacy, sections, where="rules")
    created: dict[str, Any] = {"rule": True}
    fold_legacy_keys({"old_ttl": 1, "other_ttl": 2}, legacy, created, where="modes")
    assert created == {"rule": {"ttl_s": 1}, "off": {"ttl_s": 2}}
    only_named: dict[str, Any] = {}
    fold_legacy_keys({"other_ttl": 2}, legacy, only_named, where="modes", default_on=False)
    assert only_named == {}, "a mode not named does not run: its old key does not turn it on"


def test_defaults_and_typed_access() -> None:
    options = default_options({"my-rule": TtlOptions})
    assert options == {"my-rule": TtlOptions()}

    class View:
        def options(self, name: str) -> Any:
            return options[name]

    assert view_options(View(), "my-rule", TtlOptions).ttl_s == 60

    class Other(FustorConfig):
        pass

    with pytest.raises(PluginError, match="are a TtlOptions, not Other"):
        view_options(View(), "my-rule", Other)


def test_call_each_says_which_plugin_answered_what() -> None:
    rule = Rule()
    pm = get_plugin_manager(only=[], extra=[rule])
    assert call_each(pm, "fustor_view_stats", view=None) == [(pm.get_name(rule), {"mine": 1})]


def test_the_manager_remembers_which_plugins_it_left_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    install_distribution(
        tmp_path,
        "fake-left-out",
        modules={"fake_left_out": ""},
        entry_points={"fustor": {"sync-left-out": "fake_left_out"}},
    )
    assert {"sync-left-out", "fake-left-out"} <= excluded_plugins(
        get_plugin_manager(exclude=["sync-left-out"])
    )
    assert "sync-left-out" not in excluded_plugins(get_plugin_manager(only=["sync-left-out"]))

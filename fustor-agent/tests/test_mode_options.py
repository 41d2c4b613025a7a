"""A pipe's ``modes:``: which modes run, with what options, validated when the agent starts.

The agent is built (not run): building a pipe is where modes are chosen and their factories
called with their validated options.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from fustor_agent.agent import Agent
from fustor_agent.config import AgentConfig
from fustor_core import hookimpl
from fustor_core.agent_api import RegisterSyncMode, SyncContext
from fustor_core.config import FustorConfig, parse_config
from fustor_core.errors import ConfigError, PluginError
from fustor_core.plugins import get_plugin_manager
from fustor_sync_audit import AuditMode, AuditOptions
from fustor_sync_sentinel import SentinelMode


def agent(tree: Path, *, plugins: tuple[Any, ...] = (), exclude: tuple[str, ...] = (), **pipe: Any) -> Agent:
    config = parse_config(
        AgentConfig,
        {
            "pipes": [
                {
                    "datastore": "demo",
                    "source": {"driver": "fs", "path": str(tree)},
                    "pusher": {"driver": "http", "url": "http://127.0.0.1:9", "api_key": "k"},
                    **pipe,
                }
            ]
        },
    )
    return Agent(config, plugin_manager=get_plugin_manager(exclude=exclude, extra=plugins))


def modes(built: Agent) -> dict[str, Any]:
    return {mode.name: mode for mode in built.pipes[0].modes}


def test_every_installed_mode_runs_with_its_defaults(tree: Path) -> None:
    built = modes(agent(tree))
    assert set(built) == {"realtime", "snapshot", "audit", "fresh", "sentinel"}
    assert built["audit"].options == AuditOptions()


def test_a_modes_options_reach_its_factory_and_false_turns_a_mode_off(tree: Path) -> None:
    built = modes(agent(tree, modes={"audit": {"interval_s": 30, "deep_period_s": 0}, "sentinel": False}))
    assert set(built) == {"realtime", "snapshot", "audit", "fresh"}
    assert isinstance(built["audit"], AuditMode)
    assert (built["audit"].options.interval_s, built["audit"].options.deep_period_s) == (30, 0)


def test_star_false_runs_only_the_named_modes(tree: Path) -> None:
    assert set(modes(agent(tree, modes={"*": False, "realtime": True}))) == {"realtime"}
    assert set(modes(agent(tree, modes={"*": False, "audit": {"interval_s": 5}}))) == {"audit"}


def test_the_list_form_still_means_only_these_and_is_warned_about(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fustor_agent.agent"):
        built = modes(agent(tree, modes=["realtime", "audit"], audit_interval_s=42, sentinel_interval_s=7))
    assert set(built) == {"realtime", "audit"}
    assert built["audit"].options.interval_s == 42, "the deprecated key still sets the option"
    warned = {(r.fields["key"], r.fields["use"]) for r in caplog.records}  # type: ignore[attr-defined]
    assert warned == {
        ("pipes.0.audit_interval_s", "pipes.0.modes.audit.interval_s"),
        ("pipes.0.sentinel_interval_s", "pipes.0.modes.sentinel.interval_s"),
        ("pipes.0.modes (a list)", 'pipes.0.modes: {"*": false, realtime: true, audit: true}'),
    }


def test_deprecated_pipe_keys_become_the_modes_options(tree: Path) -> None:
    built = modes(agent(tree, audit_interval_s=42, deep_audit_period_s=0, sentinel_interval_s=7))
    assert (built["audit"].options.interval_s, built["audit"].options.deep_period_s) == (42, 0)
    assert built["sentinel"].options.interval_s == 7
    assert "sentinel" not in modes(agent(tree, sentinel_interval_s=7, modes={"sentinel": False}))


@pytest.mark.parametrize(
    ("pipe", "message"),
    [
        (
            {"modes": {"audit": {"interval_s": 0}}},
            "pipes.0.modes.audit.interval_s: Input should be greater than 0",
        ),
        (
            {"modes": {"sentinel": {"intervall_s": 5}}},
            "pipes.0.modes.sentinel.intervall_s: Extra inputs are not permitted",
        ),
        (
            {"audit_interval_s": -1},
            "pipes.0.audit_interval_s (deprecated; now pipes.0.modes.audit.interval_s): Input should be"
            " greater than 0",
        ),
        (
            {"modes": {"turbo": {}}},
            "pipes.0.modes.turbo: no sync mode 'turbo' is installed (installed sync modes: audit, fresh,"
            " realtime, sentinel, snapshot)",
        ),
        (
            {"modes": {"realtime": {"fast": True}}},
            "pipes.0.modes.realtime: the sync mode 'realtime' takes no options",
        ),
    ],
)
def test_bad_mode_options_stop_the_agent_naming_the_key_path(
    tree: Path, pipe: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        agent(tree, **pipe)
    assert caught.value.message == message


def test_a_deprecated_key_and_its_new_spelling_together_are_refused(tree: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"audit_interval_s is a deprecated spelling of modes\.audit\.interval_s"
    ):
        agent(tree, audit_interval_s=1, modes={"audit": {"interval_s": 2}})


def test_the_options_of_an_excluded_mode_are_ignored_with_a_warning(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fustor_agent.agent"):
        built = modes(agent(tree, exclude=("sync-sentinel",), modes={"sentinel": {"interval_s": 5}}))
    assert "sentinel" not in built
    [warning] = [r for r in caplog.records if "not loaded" in r.getMessage()]
    assert warning.fields["key"] == "pipes.0.modes.sentinel"  # type: ignore[attr-defined]


class NightlyOptions(FustorConfig):
    hour: int = Field(default=3, ge=0, le=23)


class Nightly:
    name = "nightly"
    leader_only = True
    order = 40
    triggerable = True

    def __init__(self, options: NightlyOptions) -> None:
        self.options = options

    async def run(self, ctx: SyncContext) -> None:
        ctx.ready()


class NightlyPlugin:
    @hookimpl
    def fustor_sync_modes(self, register: RegisterSyncMode) -> None:
        register("nightly", Nightly, options=NightlyOptions)


def test_a_third_party_mode_is_configured_like_the_default_ones(tree: Path) -> None:
    built = modes(agent(tree, plugins=(NightlyPlugin(),), modes={"nightly": {"hour": 22}}))
    assert built["nightly"].options.hour == 22
    with pytest.raises(
        ConfigError, match=r"pipes\.0\.modes\.nightly\.hour: Input should be less than or equal to 23"
    ):
        agent(tree, plugins=(NightlyPlugin(),), modes={"nightly": {"hour": 24}})


def test_two_plugins_registering_one_mode_stop_the_agent_naming_both(tree: Path) -> None:
    with pytest.raises(PluginError, match=r"two plugins register the sync mode 'nightly'"):
        agent(tree, plugins=(NightlyPlugin(), NightlyPlugin()))


def test_the_default_modes_say_which_can_be_triggered(tree: Path) -> None:
    assert agent(tree).pipes[0].triggerable() == ["snapshot", "audit", "sentinel"]
    assert SentinelMode.triggerable

"""Rules own their options: ``rules:`` for every datastore, ``datastores.NAME.rules`` for one,
validated against each rule's model when Fusion starts; every list a rule publishes is served.

A throwaway third-party rule (``BigFiles``) stands for any plugin: it registers its own options
and its own list, and nothing in Fusion knows about it.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest
from fusion_testkit import BASE_CONFIG, T0, StartFusion, error_of, event, row, wait_until
from pydantic import Field

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, Changes, ViewLike
from fustor_core.config import FustorConfig
from fustor_core.errors import ConfigError, PluginError
from fustor_core.options import RegisterRuleOptions, view_options
from fustor_core.pathlist import PathList
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config


class BigFilesOptions(FustorConfig):
    min_bytes: int = Field(default=1_000_000, ge=0)


class BigFiles:
    """A third-party rule: lists every file of at least ``min_bytes`` under ``big_files``."""

    @hookimpl
    def fustor_rule_options(self, register: RegisterRuleOptions) -> None:
        register("big-files", BigFilesOptions)

    @hookimpl
    def fustor_view_started(self, view: ViewLike) -> None:
        view.register_list("big_files", PathList({"size": int}))

    @hookimpl
    def fustor_batch_applied(self, view: ViewLike, batch: Batch, changes: Changes) -> None:
        listed = view.get_list("big_files")
        assert listed is not None
        least = view_options(view, "big-files", BigFilesOptions).min_bytes
        for i in changes.upserted:
            if not batch.rows[i].is_dir and batch.rows[i].size >= least:
                listed.put(batch.rows[i].path, size=batch.rows[i].size)


class FlagsSuspects:
    """A rule that gives a flag merge-suspect gives too."""

    @hookimpl
    def fustor_node_flags(self) -> dict[str, Any]:
        return {"integrity_suspect": lambda path: True}


class OwnsFiles:
    """A rule that gives a stats key of the view's own."""

    @hookimpl
    def fustor_view_stats(self) -> dict[str, Any]:
        return {"files": -1}


def _options(fusion: Any, datastore: str, rule: str) -> Any:
    return fusion.service.datastores[datastore].view.options(rule)


def test_a_datastores_rules_override_the_top_level_key_by_key(start_fusion: StartFusion) -> None:
    datastores = copy.deepcopy(BASE_CONFIG["datastores"])
    datastores["demo"]["rules"] = {"merge-tombstone": {"ttl_s": 10}}
    fusion = start_fusion(
        rules=True,
        clock=True,
        rule_options={"merge-tombstone": {"ttl_s": 100, "max_entries": 50}},
        datastores=datastores,
    )
    demo, other = _options(fusion, "demo", "merge-tombstone"), _options(fusion, "other", "merge-tombstone")
    assert (demo.ttl_s, demo.max_entries) == (10, 50), "ttl_s from the datastore, max_entries from the top"
    assert (other.ttl_s, other.max_entries) == (100, 50)
    assert _options(fusion, "demo", "merge-suspect").max_entries == 10_000_000, "defaults for the rest"

    # and the rule behaves accordingly: the same delete expires on demo, not on other
    assert fusion.clock is not None
    for key in ("ingest-secret", "other-ingest"):
        agent = fusion.agent(key=key).open()
        agent.send_ok(event("realtime", "delete", row("/gone")))
    fusion.clock.advance(11)
    demo_query, other_query = fusion.query(), fusion.query(key="other-query", datastore="other")

    def tombstones(query: Any) -> list[str]:
        return [entry["path"] for entry in query.ok("lists/tombstones")]

    wait_until(lambda: tombstones(demo_query) == [], timeout=10)
    assert tombstones(other_query) == ["/gone"]


def test_a_datastore_adopted_later_gets_the_top_level(start_fusion: StartFusion) -> None:
    fusion = start_fusion(rules=True, rule_options={"merge-blindspot": {"ttl_s": 60}})
    adopted = fusion.service.adopt("late")
    assert adopted.view.options("merge-blindspot").ttl_s == 60


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"rules": {"merge-tombstone": {"ttl_s": -1}}},
            "rules.merge-tombstone.ttl_s: Input should be greater than or equal to 0",
        ),
        (
            {"datastores": {"demo": {"rules": {"merge-suspect": {"max_entries": 0}}}}},
            "datastores.demo.rules.merge-suspect.max_entries: Input should be greater than or equal to 1",
        ),
        (
            {"datastores": {"demo": {"rules": {"merge-suspect": {"ttl": 5}}}}},
            "datastores.demo.rules.merge-suspect.ttl: Extra inputs are not permitted",
        ),
        (
            {"rules": {"merge-tombstones": {"ttl_s": 1}}},
            "rules.merge-tombstones: no rule 'merge-tombstones' is installed (rules with options:"
            " merge-blindspot, merge-suspect, merge-tombstone)",
        ),
        (
            {"tombstone_ttl_s": -5},
            "tombstone_ttl_s (deprecated; now rules.merge-tombstone.ttl_s): Input should be greater than or"
            " equal to 0",
        ),
    ],
)
def test_bad_rule_options_stop_fusion_naming_the_key_path(overrides: dict[str, Any], message: str) -> None:
    data = copy.deepcopy(BASE_CONFIG)
    for key, value in overrides.items():
        if key == "datastores":
            data["datastores"]["demo"].update(value["demo"])
        else:
            data[key] = value
    config = parse_fusion_config(data)
    pm = get_plugin_manager(only=["storage-memory", "merge-tombstone", "merge-suspect", "merge-blindspot"])
    with pytest.raises(ConfigError) as caught:
        create_app(config, plugin_manager=pm)
    assert caught.value.message == message


def test_a_deprecated_key_is_folded_into_its_rule_and_warned_about(
    start_fusion: StartFusion, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="fustor_fusion.service"):
        fusion = start_fusion(rules=True, tombstone_ttl_s=42, suspect_max_entries=7)
    assert _options(fusion, "demo", "merge-tombstone").ttl_s == 42
    assert _options(fusion, "other", "merge-suspect").max_entries == 7
    warned = {
        (r.fields["key"], r.fields["use"])
        for r in caplog.records
        if r.getMessage() == "deprecated config key"
    }  # type: ignore[attr-defined]
    assert warned == {
        ("tombstone_ttl_s", "rules.merge-tombstone.ttl_s"),
        ("suspect_max_entries", "rules.merge-suspect.max_entries"),
    }


def test_a_deprecated_key_and_its_new_spelling_together_are_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"tombstone_ttl_s is a deprecated spelling of rules\.merge-tombstone\.ttl_s"
    ):
        parse_fusion_config({**BASE_CONFIG, "tombstone_ttl_s": 1, "rules": {"merge-tombstone": {"ttl_s": 2}}})


def test_the_options_of_a_disabled_plugin_are_ignored_with_a_warning(
    start_fusion: StartFusion, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = parse_fusion_config({**BASE_CONFIG, "rules": {"merge-suspect": {"ttl_s": 5}}})
    pm = get_plugin_manager(exclude=["merge-suspect"])
    with caplog.at_level(logging.WARNING, logger="fustor_fusion.rule_options"):
        app = create_app(config, plugin_manager=pm)
    assert "merge-suspect" not in app.state.fusion.rule_options.models
    [warning] = [r for r in caplog.records if "not loaded" in r.getMessage()]
    assert warning.fields["key"] == "rules.merge-suspect"  # type: ignore[attr-defined]


def test_every_list_a_rule_publishes_is_served_and_paged(start_fusion: StartFusion) -> None:
    fusion = start_fusion(
        rules=True, clock=True, extra_plugins=(BigFiles(),), rule_options={"big-files": {"min_bytes": 100}}
    )
    agent = fusion.agent().open()
    files = [row(f"/up/f{i:02}.dat", size=10 * i, mtime=T0 - 60) for i in range(25)]
    agent.send_ok(event("snapshot", "insert", row("/up", is_dir=True), *files))
    query = fusion.query()

    summary = {entry["name"]: entry for entry in query.ok("lists")}
    assert summary["big_files"] == {"name": "big_files", "entries": 15, "evicted": 0}
    assert {"suspects", "tombstones", "blind_spot_additions", "blind_spot_deletions"} <= set(summary)

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4, **({"cursor": cursor} if cursor else {})}
        answer = query.get("lists/big_files", **params)
        assert answer.status_code == 200, answer.text
        seen += answer.json()
        pages += 1
        cursor = answer.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert pages == 4
    assert seen == [{"path": f"/up/f{i:02}.dat", "size": 10 * i} for i in range(10, 25)]

    # the two routes of earlier versions answer the same lists
    assert query.ok("lists/suspects") == query.ok("suspects") != []
    status, code, message = error_of(query.get("lists/no_such_list"))
    assert (status, code) == (404, "list_not_found")
    assert "big_files" in message


def test_two_rules_giving_one_flag_stop_the_view_naming_both(start_fusion: StartFusion) -> None:
    with pytest.raises(PluginError) as caught:
        start_fusion(rules=True, extra_plugins=(FlagsSuspects(),))
    message = caught.value.message
    assert "two plugins give the node flag 'integrity_suspect'" in message
    assert "'merge-suspect' (distribution fustor-merge-suspect" in message
    assert "(registered in code)" in message


def test_a_rule_giving_a_stats_key_of_the_view_stops_it(start_fusion: StartFusion) -> None:
    with pytest.raises(PluginError, match=r"gives the stats key 'files', which is the view's own"):
        start_fusion(extra_plugins=(OwnsFiles(),))


def test_two_rules_registering_one_options_name_stop_fusion_naming_both(start_fusion: StartFusion) -> None:
    with pytest.raises(PluginError, match=r"two plugins register the rule options 'big-files'"):
        start_fusion(extra_plugins=(BigFiles(), BigFiles()))

"""The rule on core's rule harness, beside the default rules whose lists it cleans.

Runs in the example's own environment (``tox -e example-merge-ignore-tmp``): fustor-core, the
two default rules and this package installed, nothing else; the ``rule_harness`` fixture comes
from core's pytest plugin.
"""

from __future__ import annotations

import pytest

from fustor_core.errors import ConfigError
from fustor_core.testing import MakeRuleHarness, RuleHarness

PLUGIN = "merge-ignore-tmp"
DEFAULT_RULES = ["merge-suspect", "merge-blindspot"]
FILES = ["/up/run.bin", "/up/run.bin.part", "/up/sheet.csv", "/up/sheet.csv.tmp"]


def flags_after_an_upload(h: RuleHarness) -> dict[str, tuple[bool, bool]]:
    """Fresh files by snapshot (suspect), then found by an audit (blind-spot additions):
    path -> (integrity_suspect, agent_missing)."""
    now = h.view.clock.now()
    h.send("snapshot", "insert", *(h.row(path, now - 5) for path in FILES))
    h.send("audit", "insert", *(h.row(path, now - 5) for path in FILES))
    flags = h.flags()
    return {path: (flags["integrity_suspect"](path), flags["agent_missing"](path)) for path in FILES}


def test_without_the_rule_scratch_files_are_flagged_like_any_other(rule_harness: MakeRuleHarness) -> None:
    h = rule_harness("merge-suspect", also=["merge-blindspot"])
    assert set(flags_after_an_upload(h).values()) == {(True, True)}


def test_scratch_files_are_never_flagged(rule_harness: MakeRuleHarness) -> None:
    flags = flags_after_an_upload(rule_harness(PLUGIN, also=DEFAULT_RULES))
    assert flags["/up/run.bin.part"] == flags["/up/sheet.csv.tmp"] == (False, False)
    assert flags["/up/run.bin"] == flags["/up/sheet.csv"] == (True, True), "ordinary files keep the policy"


def test_the_suffixes_and_lists_are_the_rules_options(rule_harness: MakeRuleHarness) -> None:
    options = {PLUGIN: {"suffixes": [".part"], "lists": ["suspects"]}}
    flags = flags_after_an_upload(rule_harness(PLUGIN, also=DEFAULT_RULES, options=options))
    assert flags["/up/run.bin.part"] == (False, True), "unlisted from suspects only"
    assert flags["/up/sheet.csv.tmp"] == (True, True), ".tmp is no longer a scratch suffix"


def test_a_misspelt_option_is_refused_naming_its_key(rule_harness: MakeRuleHarness) -> None:
    with pytest.raises(ConfigError, match=r"rules\.merge-ignore-tmp\.suffix: Extra inputs are not permitted"):
        rule_harness(PLUGIN, also=DEFAULT_RULES, options={PLUGIN: {"suffix": [".part"]}})

"""This plugin's hooks run against core's fake view: no Fusion needed (plugin independence)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fustor_core.testing import RuleHarness

PLUGIN = "merge-completion"

MakeHarness = Callable[..., RuleHarness]


@pytest.fixture
def make_harness() -> MakeHarness:
    """A harness with the rule's options, e.g. ``make_harness(markers=["*.done"])``."""

    def make(**options: Any) -> RuleHarness:
        return RuleHarness.for_plugin(PLUGIN, options={PLUGIN: options})

    return make

"""This plugin's hooks run against core's fake view: no Fusion needed (plugin independence)."""

from __future__ import annotations

import pytest

from fustor_core.config import ArbitrationSettings
from fustor_core.testing import RuleHarness

PLUGIN = "merge-blindspot"


@pytest.fixture
def settings() -> ArbitrationSettings:
    return ArbitrationSettings(hot_window_s=600, future_tolerance_s=2)


@pytest.fixture
def harness(settings: ArbitrationSettings) -> RuleHarness:
    return RuleHarness.for_plugin(PLUGIN, settings)

"""Fixtures for the Fusion HTTP tests: ``start_fusion`` serves a fresh app on 127.0.0.1."""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fusion_testkit import BASE_CONFIG, FakeClock, Fusion, StartFusion, serve_app

from fustor_core.http_testing import report_fuzzing
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config

DEFAULT_PLUGINS = ["storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]


@pytest.fixture
def start_fusion() -> Iterator[StartFusion]:
    """Start a Fusion; ``rules=True`` loads the default rule plugins, otherwise storage only
    (the sqlite journal plugin is loaded too, but the base config says ``journal: {driver: none}``).

    ``clock=True`` gives it a :class:`FakeClock` (or pass one to share it across restarts);
    ``rule_options`` is the config's ``rules:`` section; other keywords override config keys.
    ``fusion.stop()`` stops it early (a restart in one test).
    """
    stack = ExitStack()

    def start(
        *,
        rules: bool = False,
        clock: bool | FakeClock = False,
        extra_plugins: tuple[Any, ...] = (),
        rule_options: dict[str, Any] | None = None,
        **overrides: Any,
    ) -> Fusion:
        data = copy.deepcopy(BASE_CONFIG)
        data.update(overrides)
        if rule_options is not None:
            data["rules"] = rule_options
        fake = clock if isinstance(clock, FakeClock) else FakeClock() if clock else None
        plugins = [*(DEFAULT_PLUGINS if rules else ["storage-memory"]), "journal-sqlite"]
        pm = get_plugin_manager(only=plugins, exclude=(), extra=extra_plugins)
        app = create_app(parse_fusion_config(data), now=fake or time.time, plugin_manager=pm)
        own = ExitStack()
        url = own.enter_context(serve_app(app))
        fusion = Fusion(url=url, app=app, clock=fake, stopper=own)
        own.callback(fusion.close)
        stack.callback(own.close)
        return fusion

    with stack:
        yield start


@pytest.fixture
def fusion(start_fusion: StartFusion) -> Fusion:
    """A Fusion with storage only (no merge rules), real clock."""
    return start_fusion()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Report how many requests the schema fuzzer sent."""
    report_fuzzing(terminalreporter)

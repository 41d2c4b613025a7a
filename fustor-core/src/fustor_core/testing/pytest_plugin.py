"""Core's pytest plugin: the test kit as fixtures, for every Fustor plugin author.

Installed with ``fustor-core`` through the ``pytest11`` entry point, so any project that has
fustor-core and pytest gets, with no conftest:

* ``rule_harness`` — a factory: ``rule_harness("merge-quarantine")`` loads an installed merge
  rule through its entry point and drives it in the engine's own order
  (:class:`fustor_core.testing.RuleHarness`; ``settings=`` and ``options=`` as in
  :meth:`~fustor_core.testing.RuleHarness.for_plugin`);
* ``sync_context`` — a factory of :class:`fustor_core.testing.FakeSyncContext` (``source``,
  then pipe settings as keywords); pumps still running at the end of the test are stopped;
* ``fake_source`` — a factory of :class:`fustor_core.testing.FakeSource`, closed at the end.

The contract suites (:mod:`fustor_core.testing.storage_contract` for tree stores,
:mod:`fustor_core.testing.journal_contract` for journals,
:mod:`fustor_core.testing.shared_journal_contract` for journals several nodes share) are
subclassed, not fixtures; this plugin registers them for pytest's assertion rewriting, so their
failures show the values compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.register_assert_rewrite(
    "fustor_core.testing.storage_contract",
    "fustor_core.testing.journal_contract",
    "fustor_core.testing.shared_journal_contract",
    "fustor_core.testing.source_contract",
)

from fustor_core.testing.agent import FakeSource, FakeSyncContext, MakeFakeSource, MakeSyncContext  # noqa: E402
from fustor_core.testing.rules import MakeRuleHarness, RuleHarness  # noqa: E402


@pytest.fixture
def rule_harness() -> MakeRuleHarness:
    """``rule_harness(name, settings=None, *, options=None)``: a :class:`RuleHarness` for the
    installed merge rule ``name``, with a fresh fake view."""
    return RuleHarness.for_plugin


@pytest.fixture
def sync_context() -> Iterator[MakeSyncContext]:
    """``sync_context(source=None, **settings)``: a fresh :class:`FakeSyncContext`."""
    made: list[FakeSyncContext] = []

    def make(source: Any = None, **kwargs: Any) -> FakeSyncContext:
        context = FakeSyncContext(source, **kwargs)
        made.append(context)
        return context

    yield make
    for context in made:
        context.stop_pumps()


@pytest.fixture
def fake_source() -> Iterator[MakeFakeSource]:
    """``fake_source(snapshot=..., audit=..., realtime=..., files=...)``: a :class:`FakeSource`."""
    made: list[FakeSource] = []

    def make(**kwargs: Any) -> FakeSource:
        source = FakeSource(**kwargs)
        made.append(source)
        return source

    yield make
    for source in made:
        source.close()

"""The test kit: what a Fustor plugin's tests need, for every family, with no Fusion or agent.

* **merge rules** — :class:`RuleHarness` drives an installed rule's hooks on a fake view
  (:class:`FakeView`, a :class:`DictStore` tree, a clock the test moves by hand) through core's
  :class:`~fustor_core.lifecycle.ViewLifecycle`, the very order Fusion's engine uses;
* **sync modes** — :class:`FakeSyncContext` records what a mode does; :class:`FakeSource`
  yields scripted rows;
* **sources** — :class:`~fustor_core.testing.source_contract.SourceContract`, the suite a
  source's tests subclass (import it from its module);
* **pushers** — :class:`FakePusherLink` hands a pusher a scripted stream and records what it
  reported;
* **storage backends** — :class:`~fustor_core.testing.storage_contract.TreeStoreContract`, the
  suite a backend's tests subclass (import it from its module: it needs pytest);
* **journals** — :class:`~fustor_core.testing.journal_contract.JournalContract`, likewise, and
  :class:`~fustor_core.testing.shared_journal_contract.SharedJournalContract` for a journal
  several Fusion nodes share;
* **everyone** — :func:`wait_for` / :func:`async_wait_for` (poll with a deadline, never a bare
  sleep), :func:`free_port`,
  :func:`install_distribution` (a throwaway installed distribution).

With pytest, core's plugin (``fustor_core.testing.pytest_plugin``, loaded through the
``pytest11`` entry point) offers the ``rule_harness``, ``sync_context`` and ``fake_source``
fixtures. Importing this package needs nothing but fustor-core's own dependencies.
"""

from fustor_core.testing.agent import (
    FakePipeSettings,
    FakePusherLink,
    FakeSource,
    FakeSyncContext,
    MakeFakeSource,
    MakeSyncContext,
    ReadyCall,
    SourceCall,
)
from fustor_core.testing.dict_store import DictStore
from fustor_core.testing.helpers import async_wait_for, free_port, install_distribution, wait_for
from fustor_core.testing.notify_socket import NotifySocket
from fustor_core.testing.rules import T0, FakeClock, FakeView, MakeRuleHarness, RuleHarness, make_row

__all__ = [
    "T0",
    "DictStore",
    "FakeClock",
    "FakePipeSettings",
    "FakePusherLink",
    "FakeSource",
    "FakeSyncContext",
    "FakeView",
    "MakeFakeSource",
    "MakeRuleHarness",
    "MakeSyncContext",
    "NotifySocket",
    "ReadyCall",
    "RuleHarness",
    "SourceCall",
    "async_wait_for",
    "free_port",
    "install_distribution",
    "make_row",
    "wait_for",
]

"""Drive a merge rule's hooks without Fusion, in the engine's own order.

``RuleHarness.for_plugin("my-rule")`` loads an installed rule through its entry point (which
also proves the entry point is right) and gives it a :class:`FakeView`: a
:class:`~fustor_core.testing.dict_store.DictStore` tree, published lists, and a clock the test
moves by hand. Every input goes through :class:`fustor_core.lifecycle.ViewLifecycle`, the very
code Fusion's engine runs, so the order of hooks, tree writes and scan bookkeeping is the
production one::

    harness = RuleHarness.for_plugin("merge-tombstone")
    harness.send("realtime", "delete", harness.row("/a", 0.0))
    batch = harness.send("snapshot", "insert", harness.row("/a", T0 - 60))
    assert batch.dropped == {0: "tombstoned"}

With pytest, the ``rule_harness`` fixture of core's pytest plugin is the same factory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import AuditRun, Batch, Changes, MissingCandidates, NodeInfo, SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.errors import PluginError
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.lifecycle import ViewLifecycle
from fustor_core.options import build_options, default_options, rule_option_models
from fustor_core.pathlist import PathList
from fustor_core.plugins import describe_plugins, get_plugin_manager
from fustor_core.testing.dict_store import DictStore

T0 = 1_700_000_000.0
"""Fusion time at which a test clock starts."""


class FakeClock:
    """A logical clock whose Fusion time (``t``) and skew the test sets by hand."""

    def __init__(self, settings: ArbitrationSettings) -> None:
        self.settings = settings
        self.t = T0
        self.skew = 0.0

    def now(self) -> float:
        return self.t

    def watermark(self) -> float:
        return self.t + self.skew

    def is_future(self, mtime: float) -> bool:
        return mtime > self.watermark() + self.settings.future_tolerance_s

    def is_hot(self, mtime: float) -> bool:
        return self.watermark() - mtime < self.settings.hot_window_s or self.is_future(mtime)

    def hot_cutoff(self) -> float:
        return self.watermark() - self.settings.hot_window_s


class FakeView:
    """The :class:`~fustor_core.arbitration.ViewLike` surface, backed by :class:`DictStore`.

    ``options`` are the rules' validated options by registered name (what ``view.options(name)``
    answers); :meth:`RuleHarness.for_plugin` builds them from plain sections.
    """

    def __init__(self, settings: ArbitrationSettings, options: Mapping[str, BaseModel] | None = None) -> None:
        self.name = "test"
        self.settings = settings
        self.clock = FakeClock(settings)
        self.store = DictStore()
        self.audit: AuditRun | None = None
        self.snapshot: AuditRun | None = None
        self.lists: dict[str, PathList] = {}
        self.flagged: list[str] = []
        """Paths a rule said the flags of changed (``flags_changed``), in order."""
        self.rule_options: dict[str, BaseModel] = dict(options or {})

    def options(self, name: str) -> Any:
        try:
            return self.rule_options[name]
        except KeyError:
            raise PluginError(f"no plugin registered rule options {name!r}") from None

    def register_list(self, name: str, entries: PathList) -> None:
        if name in self.lists and self.lists[name] is not entries:
            raise PluginError(f"two plugins publish the list {name!r}")
        self.lists[name] = entries

    def get_list(self, name: str) -> PathList | None:
        return self.lists.get(name)

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        return self.store.lookup(paths)

    def flags_changed(self, paths: Iterable[str]) -> None:
        self.flagged.extend(paths)


def make_row(path: str, mtime: float, *, size: int = 1, is_dir: bool = False, **extra: object) -> Row:
    """A validated row (``parent_path``, ``parent_mtime``, ``audit_skipped``, ``local_write`` as
    keywords)."""
    return Row.model_validate({"path": path, "mtime": mtime, "size": size, "is_dir": is_dir, **extra})


class RuleHarness:
    """A merge rule loaded through its entry point, plus a fake view to drive its hooks."""

    row = staticmethod(make_row)

    @classmethod
    def for_plugin(
        cls,
        name: str,
        settings: ArbitrationSettings | None = None,
        *,
        options: Mapping[str, Mapping[str, Any]] | None = None,
        also: Sequence[str] = (),
    ) -> RuleHarness:
        """Load only the installed plugin ``name`` (entry-point or distribution name), and the
        installed plugins ``also`` names (the rules yours works with, e.g. a rule that edits
        ``merge-suspect``'s list).

        :param settings: the engine settings the view carries (``hot_window_s``,
            ``future_tolerance_s``; their defaults otherwise).
        :param options: sections as ``fusion.yaml``'s ``rules:`` holds them, e.g.
            ``{"merge-tombstone": {"ttl_s": 100}}``; validated against the models the plugin
            registers (a bad value raises the service's ConfigError), defaults for the rest.
        """
        pm = get_plugin_manager(only=[name, *also])
        loaded = {n for info in describe_plugins(pm) for n in (info.name, info.distribution)}
        for wanted in (name, *also):
            if wanted not in loaded:
                raise AssertionError(f"plugin {wanted!r} is not installed (entry point group 'fustor')")
        models = rule_option_models(pm)
        sections = options or {}
        unknown = set(sections) - set(models)
        if unknown:
            raise AssertionError(
                f"no rule options {sorted(unknown)} registered (registered: {sorted(models)})"
            )
        validated = {
            rule: build_options(model, sections.get(rule), where=f"rules.{rule}")
            for rule, model in models.items()
        }
        return cls(pm, FakeView(settings or ArbitrationSettings(), validated))

    def __init__(self, pm: pluggy.PluginManager, view: FakeView) -> None:
        """Drive ``pm``'s rules on ``view``; a rule whose options ``view`` lacks gets its model's
        defaults, as in Fusion when ``fusion.yaml`` does not configure it."""
        self.pm = pm
        self.view = view
        for rule, defaults in default_options(rule_option_models(pm)).items():
            view.rule_options.setdefault(rule, defaults)
        self.hook = pm.hook
        self.lifecycle = ViewLifecycle(view, pm.hook)
        self.hook.fustor_view_started(view=view)

    # -- batches ----------------------------------------------------------------------------

    def event(self, source: str, kind: str, *rows: Row, index_s: float | None = None) -> Event:
        """An event of ``rows``, observed by the agent at ``index_s`` (default: the clock's now)."""
        index = int((self.view.clock.t if index_s is None else index_s) * 1000)
        return Event(
            message_source=MessageSource(source), event_type=EventType(kind), index=index, rows=list(rows)
        )

    def run_batch(self, event: Event, *, session_id: str | None = None) -> Batch:
        """Arbitrate and apply ``event`` as the engine does; the batch holds the verdicts."""
        return self.lifecycle.apply_event(event, session_id=session_id)

    def send(self, source: str, kind: str, *rows: Row, index_s: float | None = None) -> Batch:
        """``run_batch`` of a new event: ``send("audit", "insert", row, ...)``."""
        return self.run_batch(self.event(source, kind, *rows, index_s=index_s))

    # -- scans ------------------------------------------------------------------------------

    def start_audit(self) -> AuditRun:
        return self.lifecycle.start_scan("audit", None)

    def end_audit(self) -> list[str]:
        """End the running audit; returns what it deleted (nodes missing from the directories it
        listed fully, minus what the rules kept)."""
        return self._end("audit")

    def start_snapshot(self) -> AuditRun:
        return self.lifecycle.start_scan("snapshot", None)

    def end_snapshot(self) -> list[str]:
        """End the running snapshot; returns what it deleted (as :meth:`end_audit`)."""
        return self._end("snapshot")

    def _end(self, kind: str) -> list[str]:
        deleted = self.lifecycle.end_scan("audit" if kind == "audit" else "snapshot", None)
        if deleted is None:
            raise AssertionError(f"no {kind} is running: call start_{kind}() first")
        return deleted

    def offer_missing(self, paths: list[str]) -> MissingCandidates:
        """Call only :func:`~fustor_core.hookspecs.fustor_audit_missing`, offering ``paths`` (all
        in the tree) as missing from the running audit; nothing is deleted. To see what an audit
        really deletes, send its listing and call :meth:`end_audit`."""
        audit = self.view.audit
        if audit is None:
            raise AssertionError("no audit is running: call start_audit() first")
        infos = [info for info in self.view.lookup(paths) if info is not None]
        if len(infos) != len(paths):
            raise AssertionError("offer only paths that are in the tree")
        candidates = MissingCandidates(paths, infos)
        self.hook.fustor_audit_missing(view=self.view, audit=audit, candidates=candidates)
        return candidates

    # -- the rest of a view's inputs --------------------------------------------------------

    def tick(self) -> None:
        """The periodic housekeeping call, at the test clock's time."""
        self.lifecycle.tick()

    def leader_session(self, session_id: str) -> None:
        self.lifecycle.leader_session(session_id)

    def sentinel_feedback(self, *updates: SentinelUpdate) -> Changes:
        """Apply re-check results as the engine does; returns what changed in the tree."""
        return self.lifecycle.sentinel_feedback(list(updates))

    def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        """What the rules ask the leader to re-check, merged in hook order, at most ``limit``."""
        paths: dict[str, None] = {}
        for contributed in self.hook.fustor_sentinel_tasks(view=self.view, limit=limit):
            for path in contributed or ():
                paths.setdefault(path)
        return list(paths)[:limit]

    # -- answers ----------------------------------------------------------------------------

    def stats(self) -> dict[str, object]:
        merged: dict[str, object] = {}
        for part in self.hook.fustor_view_stats(view=self.view):
            merged.update(part)
        return merged

    def flags(self) -> dict[str, Callable[[str], bool]]:
        merged: dict[str, Callable[[str], bool]] = {}
        for part in self.hook.fustor_node_flags(view=self.view):
            merged.update(part)
        return merged


MakeRuleHarness = Callable[..., RuleHarness]
"""The ``rule_harness`` fixture: ``rule_harness("merge-tombstone", settings=..., options=...)``."""

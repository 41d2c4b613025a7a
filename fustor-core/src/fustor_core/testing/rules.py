"""Test helpers for merge-rule authors: drive a rule's hooks without Fusion.

``RuleHarness.for_plugin("my-rule")`` loads an installed rule through its entry point and
gives it a small dict-backed view (``FakeView``: lookups, upserts with confirmation stamps,
subtree deletes, published lists, a clock the test sets by hand). ``send`` mimics the engine's
order of calls for one batch (filter -> apply what survives -> batch_applied) and the audit
helpers mimic audit start, missing-node offers and audit end. The real engine does more (it
creates parent directories, keeps aggregates); test a rule's *interaction* with it in Fusion's
own test suite.

    harness = RuleHarness.for_plugin("merge-tombstone")
    harness.send("realtime", "delete", harness.row("/a", 0.0))
    batch = harness.send("snapshot", "insert", harness.row("/a", T0 - 60))
    assert batch.dropped == {0: "tombstoned"}

It also holds the helpers every test kit of the repository needs, so there is one copy of
each: :func:`wait_for` (poll a condition with a deadline, never a bare sleep),
:func:`free_port` (a loopback port for a real server) and :func:`install_distribution` (a
throwaway installed distribution, to test what a plugin's packaging does).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import AuditRun, Batch, Changes, MissingCandidates, NodeInfo, is_under
from fustor_core.config import ArbitrationSettings
from fustor_core.errors import PluginError
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.options import build_options, rule_option_models
from fustor_core.pathlist import PathList
from fustor_core.plugins import get_plugin_manager

T = TypeVar("T")

T0 = 1_700_000_000.0
"""Fusion time at which a test clock starts."""


class FakeClock:
    """A logical clock whose Fusion time and skew the test sets by hand."""

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


class DictStore:
    """path -> NodeInfo; parents are not created (tests send what they need)."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {}

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        return [self.nodes.get(path) for path in paths]

    def upsert(self, rows: Sequence[Row], indices: Sequence[int], confirmed_at: float | None) -> None:
        for i in indices:
            row = rows[i]
            old = self.nodes.get(row.path)
            stamp = confirmed_at if confirmed_at is not None else (old.confirmed_at if old else 0.0)
            self.nodes[row.path] = NodeInfo(row.is_dir, row.size, row.mtime, stamp)

    def delete(self, path: str) -> bool:
        doomed = [p for p in self.nodes if is_under(p, path)]
        for p in doomed:
            del self.nodes[p]
        return bool(doomed)


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
        self.rule_options: dict[str, BaseModel] = dict(options or {})

    def options(self, name: str) -> Any:
        try:
            return self.rule_options[name]
        except KeyError:
            raise PluginError(f"no plugin registered rule options {name!r}") from None

    def register_list(self, name: str, entries: PathList) -> None:
        self.lists[name] = entries

    def get_list(self, name: str) -> PathList | None:
        return self.lists.get(name)

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        return self.store.lookup(paths)


def make_row(path: str, mtime: float, *, size: int = 1, is_dir: bool = False, **extra: object) -> Row:
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
    ) -> RuleHarness:
        """Load only the installed plugin ``name`` (entry-point or distribution name).

        :param options: sections as ``fusion.yaml``'s ``rules:`` holds them, e.g.
            ``{"merge-tombstone": {"ttl_s": 100}}``; validated against the models the plugin
            registers (a bad value raises the service's ConfigError), defaults for the rest.
        """
        pm = get_plugin_manager(only=[name])
        if not pm.get_plugins():
            raise AssertionError(f"plugin {name!r} is not installed (entry point group 'fustor')")
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
        self.pm = pm
        self.view = view
        self.hook = pm.hook
        self.hook.fustor_view_started(view=view)

    def event(self, source: str, kind: str, *rows: Row, index_s: float | None = None) -> Event:
        index = int((self.view.clock.t if index_s is None else index_s) * 1000)
        return Event(
            message_source=MessageSource(source), event_type=EventType(kind), index=index, rows=list(rows)
        )

    def run_batch(self, event: Event) -> Batch:
        view = self.view
        batch = Batch(event, lookup=view.lookup, received_at=view.clock.now())
        self.hook.fustor_filter_batch(view=view, batch=batch)
        changes = Changes()
        indices = batch.to_write()
        realtime = batch.source is MessageSource.REALTIME
        if realtime and batch.event_type is EventType.DELETE:
            changes.deleted = [batch.rows[i].path for i in indices if view.store.delete(batch.rows[i].path)]
        else:
            view.store.upsert(batch.rows, indices, view.clock.now() if realtime else None)
            changes.upserted = indices
        if batch.source is MessageSource.AUDIT and view.audit is not None:
            for row in batch.rows:
                parent, _, name = row.path.rpartition("/")
                view.audit.seen.setdefault(parent or "/", set()).add(name)
                if row.is_dir:
                    if row.audit_skipped:
                        view.audit.skipped.add(row.path)
                    else:
                        view.audit.listed[row.path] = row.mtime
        self.hook.fustor_batch_applied(view=view, batch=batch, changes=changes)
        return batch

    def send(self, source: str, kind: str, *rows: Row, index_s: float | None = None) -> Batch:
        return self.run_batch(self.event(source, kind, *rows, index_s=index_s))

    def start_snapshot(self) -> AuditRun:
        scan = AuditRun(session_id=None, started_at=self.view.clock.now(), kind="snapshot")
        self.view.snapshot = scan
        self.hook.fustor_snapshot_started(view=self.view, session_id=None, scan=scan)
        return scan

    def end_snapshot(self) -> None:
        """End the snapshot (offering nothing as missing: send what the rules should see)."""
        scan = self.view.snapshot
        assert scan is not None
        self.view.snapshot = None  # as in the engine: the scan is over when its end hooks run
        self.hook.fustor_snapshot_ended(view=self.view, session_id=None, scan=scan, deleted=[])

    def tick(self) -> None:
        """The periodic housekeeping call, at the test clock's time."""
        self.hook.fustor_tick(view=self.view, now=self.view.clock.now())

    def start_audit(self) -> AuditRun:
        self.view.audit = AuditRun(session_id=None, started_at=self.view.clock.now())
        self.hook.fustor_audit_started(view=self.view, audit=self.view.audit)
        return self.view.audit

    def offer_missing(self, paths: list[str]) -> MissingCandidates:
        """Offer ``paths`` (all in the tree) to the rules as missing from the running audit."""
        assert self.view.audit is not None
        infos = [info for info in self.view.lookup(paths) if info is not None]
        assert len(infos) == len(paths), "offer only paths that are in the tree"
        candidates = MissingCandidates(paths, infos)
        self.hook.fustor_audit_missing(view=self.view, audit=self.view.audit, candidates=candidates)
        return candidates

    def end_audit(self, missing: list[str]) -> list[str]:
        """End the audit: the rules protect some of ``missing``, the rest is deleted."""
        candidates = self.offer_missing(missing)
        deleted = [path for path in candidates.to_delete() if self.view.store.delete(path)]
        audit = self.view.audit
        assert audit is not None
        self.view.audit = None  # as in the engine: the audit is over when its end hooks run
        self.hook.fustor_audit_ended(view=self.view, audit=audit, deleted=deleted)
        return deleted

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


# --------------------------------------------------------------------------------------------
# waiting and ports: the one copy every test kit (and the demo) uses
# --------------------------------------------------------------------------------------------


def wait_for(
    condition: Callable[[], T], timeout: float = 10.0, what: str = "the condition", interval: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy, and return that.

    An exception from ``condition`` counts as "not yet" (a service may still be starting); after
    ``timeout`` seconds a :class:`TimeoutError` names ``what`` and the last such exception.
    """
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = condition()
            if value:
                return value
        except Exception as exc:
            last_error = exc
        if time.monotonic() > deadline:
            suffix = f" (last error: {last_error!r})" if last_error else ""
            raise TimeoutError(f"timed out after {timeout:.1f}s waiting for {what}{suffix}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def install_distribution(
    site: Path,
    name: str,
    version: str = "1.0.0",
    *,
    entry_points: Mapping[str, Mapping[str, str]] | None = None,
    modules: Mapping[str, str] | None = None,
    requires: Sequence[str] = (),
) -> Path:
    """Make ``name`` look installed to importlib.metadata, without pip.

    Writes ``{module}.py`` files and a ``*.dist-info`` directory (METADATA with ``Requires-Dist``
    lines, entry_points.txt) under ``site``; put ``site`` on ``sys.path`` (or ``PYTHONPATH`` for
    a child process) and the entry points are found as a real installation's would be::

        install_distribution(tmp_path, "my-rule", entry_points={"fustor": {"my-rule": "my_rule"}},
                             modules={"my_rule": SOURCE}, requires=["fustor-core>=0.1,<0.2"])
        monkeypatch.syspath_prepend(str(tmp_path))
    """
    for module, source in (modules or {}).items():
        (site / f"{module}.py").write_text(source)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    lines = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    lines += [f"Requires-Dist: {requirement}" for requirement in requires]
    (info / "METADATA").write_text("\n".join(lines) + "\n")
    sections = [
        f"[{group}]\n" + "".join(f"{entry} = {value}\n" for entry, value in entries.items())
        for group, entries in (entry_points or {}).items()
    ]
    (info / "entry_points.txt").write_text("\n".join(sections))
    return info

"""A view: one datastore's arbitrated tree and the lifecycle calls that feed it.

The view is the *mechanism* of arbitration — it looks nodes up, applies what survives, keeps
track of what an audit listed, answers queries — while every *policy* (what to drop, what to
remember: tombstones, suspects, blind spots, mtime rules) lives in merge-rule plugins reached
through the hooks of :mod:`fustor_core.hookspecs`. Hot-path hooks are called once per batch.

The order of a batch's, a scan's and a sentinel sweep's calls is core's
:class:`~fustor_core.lifecycle.ViewLifecycle` — the same one the rule authors' test kit drives —
so what is Fusion's here is the skew-learning clock, the counters, the queries and the list
registry.

The view is synchronous and not thread-safe: callers serialise writes per datastore.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import AuditRun, NodeInfo, SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.errors import InvalidInput, NotFound, PluginError
from fustor_core.event_model import Event, path_problem
from fustor_core.lifecycle import ViewLifecycle
from fustor_core.options import default_options, rule_option_models
from fustor_core.pathlist import PathList
from fustor_core.plugins import hook_callers_by_plugin, plugin_origin
from fustor_core.storage import TreeStore
from fustor_fusion.engine.answer_keys import check_answer_keys
from fustor_fusion.engine.clock import SkewClock
from fustor_fusion.engine.results import BatchResult, DropCounters

ALWAYS_PRESENT_FLAGS = ("integrity_suspect", "agent_missing")
"""Flags every node answer carries, False when no rule provides them."""

STATS_DEFAULTS: dict[str, Any] = {
    "suspects": 0,
    "tombstones": 0,
    "blind_spot_additions": 0,
    "blind_spot_deletions": 0,
    "has_blind_spot": False,
    "suspects_evicted": 0,
    "tombstones_evicted": 0,
    "blind_spot_additions_evicted": 0,
    "blind_spot_deletions_evicted": 0,
}
"""Stats keys answered even when the rule that fills them is not loaded."""


def _never(_path: str) -> bool:
    return False


NEVER: Callable[[str], bool] = _never
"""The predicate of a flag no rule provides (always False)."""


class View:
    """One datastore's live tree, arbitrated by the installed merge rules."""

    def __init__(
        self,
        name: str,
        pm: pluggy.PluginManager,
        settings: ArbitrationSettings | None = None,
        *,
        storage_backend: str = "memory",
        storage_options: dict[str, Any] | None = None,
        rule_options: Mapping[str, BaseModel] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        """:param rule_options: the rules' validated options for this datastore, by registered
        name (what :meth:`options` answers); by default every registered model's defaults."""
        self.name = name
        self.settings = settings or ArbitrationSettings()
        self._options = (
            dict(rule_options) if rule_options is not None else default_options(rule_option_models(pm))
        )
        self.clock = SkewClock(self.settings, now)
        self.audit: AuditRun | None = None
        self.snapshot: AuditRun | None = None
        """The running snapshot: like an audit, a listing whose end removes what it did not find."""
        self.last_snapshot_end: float | None = None
        self.last_audit_end: float | None = None
        self.counters = DropCounters()
        self._pm = pm
        self._hook = pm.hook
        self._lists: dict[str, PathList] = {}
        self._list_owners: dict[str, str | None] = {}
        self._starting: str | None = None
        """The plugin whose ``fustor_view_started`` runs (so a clash of list names names it)."""
        store: TreeStore | None = pm.hook.fustor_tree_store(
            datastore=name, backend=storage_backend, options=storage_options or {}
        )
        if store is None:
            raise PluginError(
                f"datastore {name!r}: no storage plugin provides backend {storage_backend!r}"
                " (is fustor-storage-memory installed?)"
            )
        self.store = store
        self._lifecycle = ViewLifecycle(self, pm.hook, observe=self.clock.observe)
        for plugin, call in hook_callers_by_plugin(pm, "fustor_view_started"):
            self._starting = plugin
            call(view=self)
        self._starting = None
        check_answer_keys(pm, self)

    # -- what rules use ---------------------------------------------------------------------

    def options(self, name: str) -> Any:
        """The validated options registered as ``name`` for this datastore."""
        try:
            return self._options[name]
        except KeyError:
            raise PluginError(f"no plugin registered rule options {name!r}") from None

    def register_list(self, name: str, entries: PathList) -> None:
        """Publish a rule's path list under ``name`` for queries and other rules."""
        if name in self._lists and self._lists[name] is not entries:
            owners = [self._list_owners[name], self._starting]
            named = " and ".join(plugin_origin(self._pm, p) for p in owners if p is not None)
            raise PluginError(f"datastore {self.name!r}: two plugins publish the list {name!r}: {named}")
        self._lists[name] = entries
        self._list_owners.setdefault(name, self._starting)

    def get_list(self, name: str) -> PathList | None:
        """A published list, or None when the rule providing it is not loaded."""
        return self._lists.get(name)

    def published_lists(self) -> dict[str, PathList]:
        """Every published list by name (what a snapshot of the view keeps)."""
        return dict(self._lists)

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        """The tree's current node for each path."""
        return self.store.lookup(paths)

    def flags_changed(self, paths: Iterable[str]) -> None:
        """A rule says the flags of ``paths`` may have changed; nobody follows them here (the
        journaled view reports them in its change feed)."""

    def flags(self) -> dict[str, Callable[[str], bool]]:
        """Every flag the rules add to node answers, by name (the always-present ones first)."""
        return self._flags()

    # -- ingest: the lifecycle shared with the test kit (fustor_core.lifecycle) ---------------

    def apply_event(self, event: Event, *, session_id: str | None = None) -> BatchResult:
        """Arbitrate and apply one event (a batch of rows from one source)."""
        batch = self._lifecycle.apply_event(event, session_id=session_id)
        unchanged = len(batch.skipped.difference(batch.dropped))
        dropped = len(batch.dropped)
        result = BatchResult(
            accepted=len(batch.rows) - dropped - unchanged,
            dropped=dropped,
            unchanged=unchanged,
            reasons=dict(batch.drop_reasons()),
        )
        self.counters.record(result)
        return result

    def snapshot_start(self, session_id: str | None) -> None:
        """The leader begins a full snapshot; a running one (of a leader that went away) is abandoned."""
        self._lifecycle.start_scan("snapshot", session_id)

    def snapshot_end(self, session_id: str | None) -> list[str]:
        """The leader's snapshot is complete: like an audit's end, delete what the directories it
        listed fully no longer contain, unless a rule protects it. Returns the deleted paths."""
        deleted = self._lifecycle.end_scan("snapshot", session_id)
        if deleted is None:
            return []
        self.last_snapshot_end = self.clock.now()
        return deleted

    def audit_start(self, session_id: str | None) -> None:
        """Begin an audit; a running one (e.g. of a leader that went away) is abandoned."""
        self._lifecycle.start_scan("audit", session_id)

    def audit_end(self, session_id: str | None) -> list[str]:
        """Finish the audit: delete what fully listed directories no longer contain, unless a
        rule protects it. Returns the deleted paths (each a file or a whole subtree)."""
        deleted = self._lifecycle.end_scan("audit", session_id)
        if deleted is None:
            return []
        self.last_audit_end = self.clock.now()
        return deleted

    def leader_session(self, session_id: str) -> None:
        """A new leader session started: discovery starts afresh."""
        self._lifecycle.leader_session(session_id)

    def tick(self) -> None:
        """Periodic housekeeping (the rules expire their lists by age)."""
        self._lifecycle.tick()

    def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        """Paths the leader should re-check, at most ``limit``."""
        paths: dict[str, None] = {}
        for contributed in self._hook.fustor_sentinel_tasks(view=self, limit=limit):
            for path in contributed or ():
                paths.setdefault(path)
        return list(paths)[:limit]

    def sentinel_feedback(self, updates: list[SentinelUpdate]) -> BatchResult:
        """Apply the leader's fresh stats of re-checked paths, then let rules react."""
        changes = self._lifecycle.sentinel_feedback(updates)
        applied = len(changes.upserted) + len(changes.deleted)
        return BatchResult(accepted=applied, unchanged=len(updates) - applied)

    # -- queries ----------------------------------------------------------------------------

    def _flags(self) -> dict[str, Callable[[str], bool]]:
        flags: dict[str, Callable[[str], bool]] = dict.fromkeys(ALWAYS_PRESENT_FLAGS, _never)
        for contributed in self._hook.fustor_node_flags(view=self):
            flags.update(contributed or {})
        return flags

    def flag_names(self) -> set[str]:
        """The flags every node of this view carries (the rules' and the always-present ones)."""
        return set(self._flags())

    def flag(self, name: str) -> Callable[[str], bool] | None:
        """The predicate of the node flag ``name``, or None when no rule provides it."""
        for contributed in self._hook.fustor_node_flags(view=self):
            if contributed and name in contributed:
                return contributed[name]
        return None

    def tree(
        self,
        path: str = "/",
        *,
        depth: int = 1,
        limit: int = 1000,
        after: str | None = None,
        max_nodes: int = 10_000,
    ) -> dict[str, Any]:
        """The node at ``path`` with its children to ``depth`` levels (paged at the top)."""
        _require_valid_path(path)
        if depth < 0 or limit < 1 or max_nodes < 1:
            raise InvalidInput("depth must be >= 0, limit and max_nodes >= 1")
        node = self.store.node(
            path, depth=depth, flags=self._flags(), limit=limit, after=after, max_nodes=max_nodes
        )
        if node is None:
            raise NotFound(f"datastore {self.name!r} has no path {path!r}", code="path_not_found")
        return node

    def search(
        self, pattern: str, *, path: str = "/", limit: int = 1000, after: str | None = None
    ) -> list[dict[str, Any]]:
        """Nodes below ``path`` matching the glob ``pattern``, in path order, paged by path."""
        _require_valid_path(path)
        if not pattern:
            raise InvalidInput("pattern must not be empty")
        if self.store.aggregate(path) is None:
            raise NotFound(f"datastore {self.name!r} has no directory {path!r}", code="path_not_found")
        return self.store.search(pattern, path, flags=self._flags(), limit=limit, after=after)

    def stats(self) -> dict[str, Any]:
        """Whole-view counts (O(1) from the store's aggregates) plus what the rules add."""
        totals = self.store.totals()
        answer: dict[str, Any] = {"files": totals.files, "dirs": totals.dirs, "bytes": totals.bytes}
        answer.update(STATS_DEFAULTS)
        for contributed in self._hook.fustor_view_stats(view=self):
            answer.update(contributed or {})
        answer.update(
            rows_accepted=self.counters.accepted,
            rows_unchanged=self.counters.unchanged,
            rows_dropped=dict(self.counters.by_reason),
            clock_skew_s=self.clock.skew,
            audit_running=self.audit is not None,
            snapshot_running=self.snapshot is not None,
            last_snapshot_end=self.last_snapshot_end,
            last_audit_end=self.last_audit_end,
        )
        return answer

    def suspects(self, *, limit: int = 1000, after: str | None = None) -> list[dict[str, Any]]:
        """Suspect files in list order — by directory, then name (empty without the suspect rule)."""
        return self._page("suspects", limit, after)

    def blind_spots(self, *, limit: int = 1000, after: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Blind-spot additions and deletions in list order (by directory, then name)."""
        return {
            "additions": self._page("blind_spot_additions", limit, after),
            "deletions": self._page("blind_spot_deletions", limit, after),
        }

    def _page(self, list_name: str, limit: int, after: str | None) -> list[dict[str, Any]]:
        entries = self._lists.get(list_name)
        return entries.page(after=after, limit=limit) if entries is not None else []

    def lists(self) -> list[dict[str, Any]]:
        """Every published list, by name, with its entry count and how many its bound evicted."""
        return [
            {"name": name, "entries": len(entries), "evicted": entries.evicted}
            for name, entries in sorted(self._lists.items())
        ]

    def list_page(self, name: str, *, limit: int = 1000, after: str | None = None) -> list[dict[str, Any]]:
        """Entries of the list ``name`` in list order (by directory, then name), each
        ``{path, ...record}``; NotFound when no rule published that list."""
        entries = self._lists.get(name)
        if entries is None:
            known = ", ".join(sorted(self._lists)) or "none"
            raise NotFound(
                f"datastore {self.name!r} has no list {name!r} (lists: {known})", code="list_not_found"
            )
        return entries.page(after=after, limit=limit)


def _require_valid_path(path: str) -> None:
    problem = path_problem(path)
    if problem is not None:
        raise InvalidInput(f"path {path!r}: {problem}", code="invalid_path")

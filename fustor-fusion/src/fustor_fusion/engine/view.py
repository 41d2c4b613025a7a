"""A view: one datastore's arbitrated tree and the lifecycle calls that feed it.

The view is the *mechanism* of arbitration — it looks nodes up, applies what survives, keeps
track of what an audit listed, answers queries — while every *policy* (what to drop, what to
remember: tombstones, suspects, blind spots, mtime rules) lives in merge-rule plugins reached
through the hooks of :mod:`fustor_core.hookspecs`. Hot-path hooks are called once per batch.

The view is synchronous and not thread-safe: callers serialise writes per datastore.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import (
    AuditRun,
    Batch,
    Changes,
    MissingCandidates,
    NodeInfo,
    SentinelUpdate,
)
from fustor_core.config import ArbitrationSettings
from fustor_core.errors import InvalidInput, NotFound, PluginError
from fustor_core.event_model import Event, EventType, MessageSource, Row, path_problem
from fustor_core.logs import log_event
from fustor_core.options import default_options, rule_option_models
from fustor_core.pathlist import PathList
from fustor_core.plugins import hook_callers_by_plugin, plugin_origin
from fustor_core.storage import TreeStore
from fustor_fusion.engine.answer_keys import check_answer_keys
from fustor_fusion.engine.clock import SkewClock
from fustor_fusion.engine.results import BatchResult, DropCounters

logger = logging.getLogger(__name__)

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


def _child_path(directory: str, name: str) -> str:
    return f"/{name}" if directory == "/" else f"{directory}/{name}"


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a non-root path."""
    parent, _, name = path.rpartition("/")
    return parent or "/", name


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

    # -- ingest -----------------------------------------------------------------------------

    def apply_event(self, event: Event, *, session_id: str | None = None) -> BatchResult:
        """Arbitrate and apply one event (a batch of rows from one source)."""
        self.clock.observe(event)
        batch = Batch(event, lookup=self.store.lookup, session_id=session_id, received_at=self.clock.now())
        scan = self._scan_of(event.message_source)
        if scan is not None:
            self._record_listing(scan, batch.rows)
        self._hook.fustor_filter_batch(view=self, batch=batch)
        changes = self._apply(batch)
        self._hook.fustor_batch_applied(view=self, batch=batch, changes=changes)
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

    def _apply(self, batch: Batch) -> Changes:
        changes = Changes()
        rows = batch.rows
        to_write = batch.to_write()
        realtime = batch.source is MessageSource.REALTIME
        if batch.event_type is EventType.DELETE:
            for i in to_write:
                path = rows[i].path
                if self.store.delete(path):
                    changes.deleted.append(path)
        else:
            self.store.upsert(rows, to_write, self.clock.now() if realtime else None)
            changes.upserted = to_write
        if realtime:
            self._refresh_parent_mtimes(rows, to_write)
        return changes

    def _refresh_parent_mtimes(self, rows: list[Row], indices: Sequence[int]) -> None:
        """A realtime change also tells the parent's new mtime; keep it, or the parent-mtime
        check of a concurrent audit could not see that the directory changed after its scan."""
        newest: dict[str, float] = {}
        for i in indices:
            row = rows[i]
            if row.parent_mtime is None:
                continue
            parent = row.parent_path or _split(row.path)[0]
            if row.parent_mtime > newest.get(parent, float("-inf")):
                newest[parent] = row.parent_mtime
        if not newest:
            return
        parents = list(newest)
        current = self.store.lookup(parents)
        updates = [
            Row.model_construct(
                path=p,
                is_dir=True,
                size=0,
                mtime=newest[p],
                parent_path=None,
                parent_mtime=None,
                audit_skipped=False,
            )
            for p, info in zip(parents, current, strict=True)
            if info is None or (info.is_dir and info.mtime < newest[p])
        ]
        if updates:
            self.store.upsert(updates, range(len(updates)), None)

    def _scan_of(self, source: MessageSource) -> AuditRun | None:
        if source is MessageSource.AUDIT:
            return self.audit
        if source is MessageSource.SNAPSHOT:
            return self.snapshot
        return None

    def _record_listing(self, scan: AuditRun, rows: list[Row]) -> None:
        """Remember which directories the scan listed fully and every name it reported."""
        seen_by_dir = scan.seen
        for row in rows:
            path = row.path
            if row.is_dir:
                if row.audit_skipped:
                    scan.skipped.add(path)
                else:
                    scan.listed[path] = row.mtime
            if path == "/":
                continue
            parent, name = _split(path)
            seen = seen_by_dir.get(parent)
            if seen is None:
                seen = seen_by_dir[parent] = set()
            seen.add(sys.intern(name))  # the tree holds the same interned name: ~60 bytes less each

    # -- lifecycle --------------------------------------------------------------------------

    def snapshot_start(self, session_id: str | None) -> None:
        """The leader begins a full snapshot; a running one (of a leader that went away) is abandoned."""
        self._abandon(self.snapshot, "snapshot", session_id)
        self.snapshot = AuditRun(session_id=session_id, started_at=self.clock.now(), kind="snapshot")
        self._hook.fustor_snapshot_started(view=self, session_id=session_id, scan=self.snapshot)

    def snapshot_end(self, session_id: str | None) -> list[str]:
        """The leader's snapshot is complete: like an audit's end, delete what the directories it
        listed fully no longer contain, unless a rule protects it. Returns the deleted paths."""
        scan = self.snapshot
        if scan is None or scan.session_id != session_id:
            self._unmatched_end("snapshot", session_id)
            return []
        self.snapshot = None
        deleted = self._remove_missing(scan)
        self.last_snapshot_end = self.clock.now()
        self._hook.fustor_snapshot_ended(view=self, session_id=session_id, scan=scan, deleted=deleted)
        return deleted

    def audit_start(self, session_id: str | None) -> None:
        """Begin an audit; a running one (e.g. of a leader that went away) is abandoned."""
        self._abandon(self.audit, "audit", session_id)
        self.audit = AuditRun(session_id=session_id, started_at=self.clock.now())
        self._hook.fustor_audit_started(view=self, audit=self.audit)

    def audit_end(self, session_id: str | None) -> list[str]:
        """Finish the audit: delete what fully listed directories no longer contain, unless a
        rule protects it. Returns the deleted paths (each a file or a whole subtree)."""
        audit = self.audit
        if audit is None or audit.session_id != session_id:
            self._unmatched_end("audit", session_id)
            return []
        self.audit = None
        deleted = self._remove_missing(audit)
        self.last_audit_end = self.clock.now()
        self._hook.fustor_audit_ended(view=self, audit=audit, deleted=deleted)
        return deleted

    def _abandon(self, scan: AuditRun | None, kind: str, session_id: str | None) -> None:
        if scan is not None:
            log_event(
                logger,
                logging.INFO,
                f"{kind} abandoned by a newer {kind}",
                datastore=self.name,
                old_session=scan.session_id,
                new_session=session_id,
            )

    def _unmatched_end(self, kind: str, session_id: str | None) -> None:
        log_event(
            logger,
            logging.WARNING,
            f"{kind} end without a matching {kind} start",
            datastore=self.name,
            session=session_id,
        )

    def _remove_missing(self, scan: AuditRun) -> list[str]:
        """Offer the nodes the scan's full listings did not contain to the rules; delete the rest."""
        candidates = self._missing_from_listing(scan)
        self._hook.fustor_audit_missing(view=self, audit=scan, candidates=candidates)
        deleted = [path for path in candidates.to_delete() if self.store.delete(path)]
        if deleted or candidates.kept:
            log_event(
                logger,
                logging.INFO,
                f"{scan.kind} found missing nodes",
                datastore=self.name,
                deleted=len(deleted),
                protected=len(candidates.kept),
            )
        return deleted

    def _missing_from_listing(self, scan: AuditRun) -> MissingCandidates:
        paths: list[str] = []
        infos: list[NodeInfo] = []
        for directory in scan.listed:
            if directory in scan.skipped:
                continue
            listing = self.store.listing(directory)
            if not listing:
                continue
            seen = scan.seen.get(directory, set())
            for name, info in listing.items():
                if name not in seen:
                    paths.append(_child_path(directory, name))
                    infos.append(info)
        return MissingCandidates(paths, infos)

    def leader_session(self, session_id: str) -> None:
        """A new leader session started: discovery starts afresh."""
        self._hook.fustor_leader_session(view=self, session_id=session_id)

    def tick(self) -> None:
        """Periodic housekeeping (the rules expire their lists by age)."""
        self._hook.fustor_tick(view=self, now=self.clock.now())

    def sentinel_tasks(self, limit: int = 1000) -> list[str]:
        """Paths the leader should re-check, at most ``limit``."""
        paths: dict[str, None] = {}
        for contributed in self._hook.fustor_sentinel_tasks(view=self, limit=limit):
            for path in contributed or ():
                paths.setdefault(path)
        return list(paths)[:limit]

    def sentinel_feedback(self, updates: list[SentinelUpdate]) -> BatchResult:
        """Apply the leader's fresh stats of re-checked paths, then let rules react."""
        changes = Changes()
        current = self.store.lookup([u.path for u in updates])
        rewritten: list[Row] = []
        upserted: list[int] = []
        for i, (update, info) in enumerate(zip(updates, current, strict=True)):
            if info is None or info.is_dir:
                continue
            if not update.exists:
                if self.store.delete(update.path):
                    changes.deleted.append(update.path)
            elif update.mtime is not None and (
                update.mtime != info.mtime or (update.size is not None and update.size != info.size)
            ):
                size = update.size if update.size is not None else info.size
                rewritten.append(
                    Row.model_construct(
                        path=update.path,
                        is_dir=False,
                        size=size,
                        mtime=update.mtime,
                        parent_path=None,
                        parent_mtime=None,
                        audit_skipped=False,
                    )
                )
                upserted.append(i)
        changes.upserted = upserted
        if rewritten:
            self.store.upsert(rewritten, range(len(rewritten)), None)
        self._hook.fustor_sentinel_feedback(view=self, updates=updates, changes=changes)
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

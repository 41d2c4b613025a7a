"""The life of a view's inputs: one copy of the order in which batches, scans and sentinel
feedback reach the tree and the merge rules.

Fusion's engine (``fustor_fusion.engine.View``) and the rule authors' test kit
(:class:`fustor_core.testing.RuleHarness`) both drive their views through
:class:`ViewLifecycle`, so a rule tested alone meets exactly the order it meets in production:

* **a batch** — the clock observes the event; a :class:`~fustor_core.arbitration.Batch` is made;
  a row of a running scan (audit or snapshot) is recorded in that scan's listing *before* any
  rule sees it (a dropped row was still listed: its name is not missing);
  :func:`~fustor_core.hookspecs.fustor_filter_batch`; the kept rows are applied — every row of a
  delete event is deleted, others are upserted, realtime stamps ``confirmed_at`` — and a realtime
  row's ``parent_mtime`` refreshes its parent directory;
  :func:`~fustor_core.hookspecs.fustor_batch_applied`;
* **a scan** (audit or snapshot) — its start hook; its rows as above; at its end the scan is no
  longer running, every node a fully listed directory did not contain is offered to
  :func:`~fustor_core.hookspecs.fustor_audit_missing`, the ones no rule kept are deleted, and the
  end hook receives them;
* **sentinel feedback** — the fresh stats are applied to the files they concern, then
  :func:`~fustor_core.hookspecs.fustor_sentinel_feedback` says what changed.

The lifecycle works on the view's :class:`~fustor_core.storage.TreeStore` (``lookup``,
``upsert``, ``delete``, ``listing``), its clock and the plugin manager's hooks; what a service
adds around it (counters, queries, a skew-learning clock) stays in the service.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from typing import Literal

import pluggy

from fustor_core.arbitration import (
    AuditRun,
    Batch,
    Changes,
    MissingCandidates,
    NodeInfo,
    SentinelUpdate,
    ViewLike,
)
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

ScanKind = Literal["audit", "snapshot"]


def _split(path: str) -> tuple[str, str]:
    """(parent, name) of a non-root path."""
    parent, _, name = path.rpartition("/")
    return parent or "/", name


def _child_path(directory: str, name: str) -> str:
    return f"/{name}" if directory == "/" else f"{directory}/{name}"


def _directory_row(path: str, mtime: float, size: int) -> Row:
    return Row.model_construct(
        path=path,
        is_dir=True,
        size=size,
        mtime=mtime,
        parent_path=None,
        parent_mtime=None,
        audit_skipped=False,
    )


class ViewLifecycle:
    """The order of calls for one view: hooks, tree writes and scan bookkeeping.

    ``view`` is what the hooks receive (and whose ``store``, ``clock``, ``audit`` and
    ``snapshot`` the lifecycle reads and sets); ``hook`` is the plugin manager's hook relay;
    ``observe``, when given, sees every event before anything else (Fusion's clock learns the
    storage's skew from it).
    """

    __slots__ = ("_hook", "_observe", "view")

    def __init__(
        self, view: ViewLike, hook: pluggy.HookRelay, *, observe: Callable[[Event], None] | None = None
    ) -> None:
        self.view = view
        self._hook = hook
        self._observe = observe

    # -- batches ----------------------------------------------------------------------------

    def apply_event(self, event: Event, *, session_id: str | None = None) -> Batch:
        """Arbitrate and apply one event; the batch carries the rules' verdicts."""
        view = self.view
        if self._observe is not None:
            self._observe(event)
        batch = Batch(event, lookup=view.store.lookup, session_id=session_id, received_at=view.clock.now())
        source = event.message_source
        if source is MessageSource.AUDIT:
            if view.audit is not None:
                _record_listing(view.audit, batch.rows)
        elif source is MessageSource.SNAPSHOT and view.snapshot is not None:
            _record_listing(view.snapshot, batch.rows)
        hook = self._hook
        hook.fustor_filter_batch(view=view, batch=batch)
        changes = self._apply(batch)
        hook.fustor_batch_applied(view=view, batch=batch, changes=changes)
        return batch

    def _apply(self, batch: Batch) -> Changes:
        store = self.view.store
        changes = Changes()
        rows = batch.rows
        to_write = batch.to_write()
        realtime = batch.source is MessageSource.REALTIME
        if batch.event_type is EventType.DELETE:
            deleted = changes.deleted
            for i in to_write:
                path = rows[i].path
                if store.delete(path):
                    deleted.append(path)
        else:
            store.upsert(rows, to_write, self.view.clock.now() if realtime else None)
            changes.upserted = to_write
        if realtime:
            changes.refreshed = self._refresh_parent_mtimes(rows, to_write)
        return changes

    def _refresh_parent_mtimes(self, rows: list[Row], indices: Sequence[int]) -> list[str]:
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
            return []
        store = self.view.store
        parents = list(newest)
        updates = [  # a directory's own size is kept: only its mtime is news
            _directory_row(path, newest[path], info.size if info is not None else 0)
            for path, info in zip(parents, store.lookup(parents), strict=True)
            if info is None or (info.is_dir and info.mtime < newest[path])
        ]
        if updates:
            store.upsert(updates, range(len(updates)), None)
        return [row.path for row in updates]

    # -- scans ------------------------------------------------------------------------------

    def start_scan(self, kind: ScanKind, session_id: str | None) -> AuditRun:
        """Begin an audit or a snapshot; a running one of the same kind (of a leader that went
        away) is abandoned."""
        view = self.view
        running = view.audit if kind == "audit" else view.snapshot
        if running is not None:
            log_event(
                logger,
                logging.INFO,
                f"{kind} abandoned by a newer {kind}",
                datastore=view.name,
                old_session=running.session_id,
                new_session=session_id,
            )
        scan = AuditRun(session_id=session_id, started_at=view.clock.now(), kind=kind)
        if kind == "audit":
            view.audit = scan
            self._hook.fustor_audit_started(view=view, audit=scan)
        else:
            view.snapshot = scan
            self._hook.fustor_snapshot_started(view=view, session_id=session_id, scan=scan)
        return scan

    def end_scan(self, kind: ScanKind, session_id: str | None) -> list[str] | None:
        """Finish the running scan of ``session_id``: delete what the directories it listed fully
        no longer contain, unless a rule keeps it. Returns the deleted paths (each a file or a
        whole subtree), or None when no such scan runs (the end is logged and ignored)."""
        view = self.view
        scan = view.audit if kind == "audit" else view.snapshot
        if scan is None or scan.session_id != session_id:
            log_event(
                logger,
                logging.WARNING,
                f"{kind} end without a matching {kind} start",
                datastore=view.name,
                session=session_id,
            )
            return None
        # the scan is over when its end hooks run: rules see it gone from view.audit/view.snapshot
        if kind == "audit":
            view.audit = None
        else:
            view.snapshot = None
        deleted = self._remove_missing(scan)
        if kind == "audit":
            self._hook.fustor_audit_ended(view=view, audit=scan, deleted=deleted)
        else:
            self._hook.fustor_snapshot_ended(view=view, session_id=session_id, scan=scan, deleted=deleted)
        return deleted

    def _remove_missing(self, scan: AuditRun) -> list[str]:
        """Offer the nodes the scan's full listings did not contain to the rules; delete the rest."""
        view = self.view
        candidates = missing_from_listing(scan, view.store.listing)
        self._hook.fustor_audit_missing(view=view, audit=scan, candidates=candidates)
        store = view.store
        deleted = [path for path in candidates.to_delete() if store.delete(path)]
        if deleted or candidates.kept:
            log_event(
                logger,
                logging.INFO,
                f"{scan.kind} found missing nodes",
                datastore=view.name,
                deleted=len(deleted),
                protected=len(candidates.kept),
            )
        return deleted

    # -- the rest of a view's inputs --------------------------------------------------------

    def sentinel_feedback(self, updates: list[SentinelUpdate]) -> Changes:
        """Apply the leader's fresh stats of re-checked files, then let the rules react.

        Only files the tree holds are touched: a path that is gone is deleted, a changed mtime
        or size is written (keeping the node's ``confirmed_at``); directories are left alone.
        """
        view = self.view
        store = view.store
        changes = Changes()
        rewritten: list[Row] = []
        upserted: list[int] = []
        current = store.lookup([u.path for u in updates])
        for i, (update, info) in enumerate(zip(updates, current, strict=True)):
            if info is None or info.is_dir:
                continue
            if not update.exists:
                if store.delete(update.path):
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
            store.upsert(rewritten, range(len(rewritten)), None)
        self._hook.fustor_sentinel_feedback(view=view, updates=updates, changes=changes)
        return changes

    def leader_session(self, session_id: str) -> None:
        """A new leader session started: discovery starts afresh."""
        self._hook.fustor_leader_session(view=self.view, session_id=session_id)

    def tick(self) -> None:
        """Periodic housekeeping at the clock's current time (rules expire their lists)."""
        self._hook.fustor_tick(view=self.view, now=self.view.clock.now())


def _record_listing(scan: AuditRun, rows: list[Row]) -> None:
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


def missing_from_listing(
    scan: AuditRun, listing: Callable[[str], dict[str, NodeInfo] | None]
) -> MissingCandidates:
    """The nodes below the scan's fully listed directories that the scan did not report."""
    paths: list[str] = []
    infos: list[NodeInfo] = []
    for directory in scan.listed:
        if directory in scan.skipped:
            continue
        children = listing(directory)
        if not children:
            continue
        seen = scan.seen.get(directory, set())
        for name, info in children.items():
            if name not in seen:
                paths.append(_child_path(directory, name))
                infos.append(info)
    return MissingCandidates(paths, infos)


__all__ = ["ScanKind", "ViewLifecycle", "missing_from_listing"]

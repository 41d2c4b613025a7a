"""Hook implementations of the completion rule: wiring between the engine and the tracker."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import compress, pairwise
from operator import attrgetter, ne
from typing import Any

from fustor_core import hookimpl
from fustor_core.arbitration import (
    AuditRun,
    Batch,
    Changes,
    NodeInfo,
    SentinelUpdate,
    ViewLike,
    is_under,
    parent_of,
)
from fustor_core.event_model import MessageSource, Row
from fustor_core.options import RegisterRuleOptions
from fustor_core.pathlist import PathList
from fustor_merge_completion.options import NAME, CompletionOptions, options_of
from fustor_merge_completion.rebuild import rebuild_from_tree
from fustor_merge_completion.tracker import (
    AWAITING_FIELDS,
    COMPLETE_FIELDS,
    NEVER,
    CompletionTracker,
    marker_matcher,
)

LIST_NAME = "complete"
"""The published list of complete directories; its membership is the ``complete`` flag."""
AWAITING_LIST_NAME = "awaiting_listing"
"""The published list of directories changed since the leader last listed them: a journal
snapshot keeps it, so a restart does not take them as listed (see the rebuild)."""
FLAG = "complete"
SUSPECTS = "suspects"
SETTLED_PER_TICK = 20_000
"""At most this many due directories are decided per tick, so that a whole fresh upload
settling at once does not hold the event loop; the rest wait for later ticks."""

_PATH, _MTIME, _IS_DIR = attrgetter("path"), attrgetter("mtime"), attrgetter("is_dir")
_PARENT = attrgetter("parent_path")


class CompleteList(PathList):
    """Complete directories (``path -> {since, how}``), carrying the view's tracker along.

    The tracker rides on the list so that the rule's state lives on the view (one process holds
    many views) and is found in O(1) by every hook.
    """

    __slots__ = ("tracker",)

    def __init__(self) -> None:
        super().__init__(COMPLETE_FIELDS)
        self.tracker: CompletionTracker | None = None


def tracker_of(view: ViewLike) -> CompletionTracker | None:
    """This view's tracker (None if the view was started without this plugin).

    The first call that comes before a batch is applied looks for a tree the view already held
    (restored from a journal snapshot) and rebuilds the aggregates from it once.
    """
    entries = view.get_list(LIST_NAME)
    tracker = entries.tracker if isinstance(entries, CompleteList) else None
    if tracker is not None and not tracker.restore_checked:
        tracker.restore_checked = True
        rebuild_from_tree(tracker, view.store)
    return tracker


def suspect_probe(view: ViewLike) -> Callable[[str], bool]:
    """Whether anything at or below a path is listed by the suspect rule (False without it).

    Two bisections of the suspect list, whatever its size: the entries of a directory are
    listed together, and the directories below it form one range of the directory order.
    """

    def any_suspect_under(path: str) -> bool:
        suspects = view.get_list(SUSPECTS)
        if not suspects:
            return False
        if path == "/":
            return True
        for start in (path + "/", path + "//"):  # entries of the directory, then of those below it
            first = suspects.page(after=start, limit=1)
            if first and is_under(first[0]["path"], path):
                return True
        return False

    return any_suspect_under


@hookimpl
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    register(NAME, CompletionOptions)


@hookimpl
def fustor_view_started(view: ViewLike) -> None:
    options = options_of(view)
    entries = CompleteList()
    awaiting = PathList(AWAITING_FIELDS)
    entries.tracker = CompletionTracker(
        entries,
        awaiting,
        markers=marker_matcher(options.markers),
        settle_s=options.settle_s,
        recheck_s=options.recheck_s,
        any_suspect_under=suspect_probe(view),
    )
    view.register_list(LIST_NAME, entries)
    view.register_list(AWAITING_LIST_NAME, awaiting)


@hookimpl
def fustor_filter_batch(view: ViewLike) -> None:
    tracker_of(view)  # before anything of the batch is written: see tracker_of


@hookimpl
def fustor_batch_applied(view: ViewLike, batch: Batch, changes: Changes) -> None:
    tracker = tracker_of(view)
    if tracker is None:
        return
    rows = batch.rows
    realtime = batch.source is MessageSource.REALTIME
    watermark = view.clock.watermark()
    if changes.deleted:
        _removed(view, tracker, changes.deleted, watermark)
    if realtime:
        _note_parent_mtimes(tracker, rows, batch.to_write())
    upserted = changes.upserted
    if upserted:
        selected = rows if upserted == range(len(rows)) else list(map(rows.__getitem__, upserted))
        _written(tracker, selected, watermark if realtime else None)
    if batch.skipped and not realtime:
        _note_unchanged_listings(tracker, rows, batch)
    tracker.end_of_batch(view.clock.now())


@hookimpl
def fustor_audit_ended(view: ViewLike, audit: AuditRun, deleted: list[str]) -> None:
    tracker = tracker_of(view)
    if tracker is not None and deleted:
        _removed(view, tracker, deleted, None)
        tracker.end_of_batch(view.clock.now())


@hookimpl
def fustor_snapshot_ended(view: ViewLike, scan: AuditRun, deleted: list[str]) -> None:
    fustor_audit_ended(view, scan, deleted)


@hookimpl
def fustor_sentinel_feedback(view: ViewLike, updates: list[SentinelUpdate], changes: Changes) -> None:
    tracker = tracker_of(view)
    if tracker is None:
        return
    watermark = view.clock.watermark()
    if changes.deleted:
        _removed(view, tracker, changes.deleted, watermark)
    for i in changes.upserted:
        update = updates[i]
        tracker.changed_below(parent_of(update.path), max(update.mtime or NEVER, watermark))
    tracker.end_of_batch(view.clock.now())


@hookimpl
def fustor_tick(view: ViewLike, now: float) -> None:
    tracker = tracker_of(view)
    if tracker is not None and tracker.markers is None:
        tracker.settle(view.clock.watermark(), now, SETTLED_PER_TICK)
    if tracker is not None:
        tracker.flush_awaiting()


@hookimpl
def fustor_node_flags(view: ViewLike) -> dict[str, Callable[[str], bool]]:
    entries = view.get_list(LIST_NAME)
    return {FLAG: entries.__contains__} if isinstance(entries, CompleteList) else {}


@hookimpl
def fustor_view_stats(view: ViewLike) -> dict[str, Any]:
    entries = view.get_list(LIST_NAME)
    tracker = entries.tracker if isinstance(entries, CompleteList) else None
    if tracker is None:
        return {"uploads_complete": 0, "uploads_incomplete": 0, "completion_pending": 0}
    return {
        "uploads_complete": tracker.top_level_complete,
        "uploads_incomplete": tracker.top_level - tracker.top_level_complete,
        "completion_pending": tracker.pending(),
    }


# -- what a batch changed, told to the tracker ------------------------------------------------


def _written(tracker: CompletionTracker, rows: Sequence[Row], realtime_at: float | None) -> None:
    """Rows written to the tree: each counts for its directory at its change time — its mtime
    for a scanned row, "now" (``realtime_at``, unless the mtime is newer) for a realtime one.

    A batch holds runs of rows of one directory (a scan sends a directory's entries together,
    each with its ``parent_path``), so the rows are cut into those runs by C-level ``map``s and
    the tracker is told once per run, with the run's newest change — no Python step per row on
    the snapshot path.
    """
    count = len(rows)
    mtimes = list(map(_MTIME, rows))
    parents: list[str | None] = list(map(_PARENT, rows))
    if None in parents:
        parents = [row.parent_path or parent_of(row.path) for row in rows]
    if realtime_at is not None:
        newest = max(mtimes)
        realtime_at = newest if newest > realtime_at else realtime_at
    starts = [0, *compress(range(1, count), map(ne, parents[1:], parents[:-1])), count]
    for start, stop in pairwise(starts):
        t = max(mtimes[start:stop]) if realtime_at is None else realtime_at
        tracker.changed_below(parents[start] or "/", t)
    directories = list(compress(range(count), map(_IS_DIR, rows)))
    for i in directories:
        row = rows[i]
        tracker.directory_row(row.path, row.mtime if realtime_at is None else realtime_at, row.mtime)
        if realtime_at is None and not row.audit_skipped:
            tracker.directory_listed(row.path, row.mtime)
    markers = tracker.markers
    if markers is not None:
        names = [row.path.rpartition("/")[2] for row in rows]
        for i in compress(range(count), map(markers, names)):
            if not rows[i].is_dir:
                tracker.marker_seen(parents[i] or "/", mtimes[i] if realtime_at is None else realtime_at)


def _note_unchanged_listings(tracker: CompletionTracker, rows: Sequence[Row], batch: Batch) -> None:
    """Directories a scan listed fully that the tree already held as they are (the engine skipped
    their rows as unchanged): listed all the same. Written ones were noted by :func:`_written`."""
    dropped = batch.dropped
    for i in batch.skipped:
        row = rows[i]
        if row.is_dir and i not in dropped and not row.audit_skipped:
            tracker.directory_listed(row.path, row.mtime)


def _note_parent_mtimes(tracker: CompletionTracker, rows: Sequence[Row], indices: Sequence[int]) -> None:
    """Realtime rows carry their directory's new mtime: a name came or went there."""
    for i in indices:
        row = rows[i]
        if row.parent_mtime is not None:
            tracker.directory_mtime(row.parent_path or parent_of(row.path), row.parent_mtime)


def _removed(view: ViewLike, tracker: CompletionTracker, paths: Sequence[str], at: float | None) -> None:
    """Nodes left the tree. A realtime deletion happened ``at`` now; one a scan found counts at
    its directory's mtime as the scan saw it (when the name went)."""
    markers = tracker.markers
    for path in paths:
        tracker.removed(path)
        if path == "/":
            continue
        parent = parent_of(path)
        if at is not None:
            t = at
        else:
            st = tracker.dirs.get(parent)
            t = st.known if st is not None and st.known > 0 else view.clock.watermark()
        tracker.changed_below(parent, t)
        if markers is not None and markers(path.rpartition("/")[2]):
            listing = _listing(view, parent)
            tracker.marker_gone(
                parent, (info.mtime for name, info in listing.items() if not info.is_dir and markers(name))
            )


def _listing(view: ViewLike, directory: str) -> dict[str, NodeInfo]:
    listing = getattr(view.store, "listing", None)  # a test's minimal store may not list
    return (listing(directory) if listing is not None else None) or {}

"""Rebuild the aggregates from a tree the view already holds (restored from a journal snapshot).

A snapshot of the view keeps the published lists — ``complete`` and ``awaiting_listing`` — but
not the tracker's numbers, so the first time the rule sees a view that starts with a tree, it
walks it once (O(nodes), about a second per million) instead of answering from empty aggregates.
A directory in ``awaiting_listing`` was changed since the leader last listed it: it stays
unlisted (until a listing reaches the mtime the list keeps, or its current one if newer), so it
cannot turn complete before that listing comes. Every other directory is taken as listed at its
current mtime — the leader listed it after its last change before the snapshot. Every directory
that is not complete yet is scheduled.
"""

from __future__ import annotations

from typing import Any

from fustor_merge_completion.tracker import NEVER, CompletionTracker, DirState


def rebuild_from_tree(tracker: CompletionTracker, store: Any) -> int:
    """Fill ``tracker`` from ``store``'s tree; returns how many directories it holds (0: empty)."""
    listing = getattr(store, "listing", None)
    if listing is None:
        return 0
    root = listing("/")
    if not root:
        return 0
    markers = tracker.markers
    dirs = tracker.dirs
    awaiting = tracker.awaiting
    unlisted_at = {path: record["mtime"] for path, record in awaiting.items()}
    walked: list[tuple[str, str | None]] = []
    stack: list[tuple[str, str | None, float]] = [("/", None, 0.0)]
    while stack:
        path, parent, mtime = stack.pop()
        st = dirs[path] = DirState()
        st.known = st.listed = st.own = mtime
        known = unlisted_at.pop(path, None)
        if known is not None:
            st.listed = NEVER
            st.unlisted = 1
            if mtime > known:
                awaiting.put(path, mtime=mtime)
            else:
                st.known = known
        walked.append((path, parent))
        children = (root if path == "/" else listing(path)) or {}
        prefix = "/" if path == "/" else path + "/"
        for name, info in children.items():
            if info.is_dir:
                stack.append((prefix + name, path, info.mtime))
            else:
                if info.mtime > st.below:
                    st.below = info.mtime
                if markers is not None and markers(name) and info.mtime > st.marker:
                    st.marker = info.mtime
    for gone in unlisted_at:  # no longer in the tree
        awaiting.discard(gone)
    for path, parent in reversed(walked):  # children before their parents
        if parent is None:
            continue
        st = dirs[path]
        newest = st.newest
        up = dirs[parent]
        if newest > up.below:
            up.below = newest
        up.unlisted += st.unlisted
        if parent == "/":
            tracker.top_level += 1
            if path in tracker.complete:
                tracker.top_level_complete += 1
    for path, _ in walked:
        if path not in tracker.complete:
            tracker.reconsider(path)
    return len(walked)

"""Rebuild the aggregates from a tree the view already holds (restored from a journal snapshot).

A snapshot of the view keeps the published ``complete`` list but not the tracker's numbers, so
the first time the rule sees a view that starts with a tree, it walks it once (O(nodes), about
a second per million) instead of answering from empty aggregates. Every directory is taken as
listed at its current mtime — the leader listed the tree before the snapshot, and its resume
audit lists what changed since — and every directory that is not complete yet is scheduled.
"""

from __future__ import annotations

from typing import Any

from fustor_merge_completion.tracker import CompletionTracker, DirState


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
    walked: list[tuple[str, str | None]] = []
    stack: list[tuple[str, str | None, float]] = [("/", None, 0.0)]
    while stack:
        path, parent, mtime = stack.pop()
        st = dirs[path] = DirState()
        st.known = st.listed = st.own = mtime
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
    for path, parent in reversed(walked):  # children before their parents
        if parent is None:
            continue
        newest = dirs[path].newest
        up = dirs[parent]
        if newest > up.below:
            up.below = newest
        if parent == "/":
            tracker.top_level += 1
            if path in tracker.complete:
                tracker.top_level_complete += 1
    for path, _ in walked:
        if path not in tracker.complete:
            tracker.reconsider(path)
    return len(walked)

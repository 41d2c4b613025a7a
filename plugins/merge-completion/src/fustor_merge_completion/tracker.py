"""Per-directory aggregates, kept up to date change by change, that decide completion in O(1).

Asking "is anything under X younger than ``settle_s``, suspect, or not listed since it changed?"
by walking X's subtree would cost a walk of up to a million nodes per question. Instead every
directory the view holds carries a few numbers, updated on the ingest path by walking *up*
from each changed directory (once per directory of a batch, not per row, and only as far as
something changes):

* ``below`` — the newest change time of anything strictly below it (files, subdirectories,
  deletions), in the storage's mtime frame: a scanned row counts with its mtime, a realtime row
  or deletion with "now" on the logical clock (it happened now, whatever mtime it reports);
* ``own`` — the change time of the directory's own row;
* ``known``/``listed`` — the newest mtime the tree has seen for the directory, and its mtime
  when the leader last listed it fully (snapshot or audit row without ``audit_skipped``); the
  directory is *unlisted* while ``listed < known`` (a name may have come or gone since);
* ``unlisted`` — how many directories of its subtree (itself included) are unlisted;
* ``marker`` — the newest change time of a marker file directly in it.

A directory becomes complete at most once per change: marker mode decides at the end of the
batch that touched it; settle mode keeps a heap of directories by the time they settle and
decides on the tick (a directory waiting for a listing leaves the heap until the count of
unlisted directories under it drops to zero). Complete directories are the members of a
published :class:`~fustor_core.pathlist.PathList`, whose ``__contains__`` is the ``complete``
flag — so a flip either way is a membership change the change feed sees.

The unlisted directories are published too, as the list ``awaiting_listing`` (``path ->
{mtime}``: the mtime a listing must reach), kept as each one becomes unlisted or listed. A journal
snapshot keeps published lists but none of these numbers, so after a restart the rebuild
(:mod:`fustor_merge_completion.rebuild`) takes this list to know which directories still wait
for the leader's listing, rather than taking every directory as listed. It holds only directories
changed since they were last listed (after an audit, usually none); it costs a put when a
directory enters it or its mtime rises meanwhile, and a discard when it is listed.
"""

from __future__ import annotations

import heapq
import math
import re
from collections.abc import Callable, Iterable, Sequence
from fnmatch import translate

from fustor_core.arbitration import is_under, parent_of
from fustor_core.pathlist import PathList

NEVER = -math.inf

COMPLETE_FIELDS = {"since": float, "how": str}
"""``since``: Fusion time the directory became complete; ``how``: ``marker`` or ``settled``."""
AWAITING_FIELDS = {"mtime": float}
"""``mtime``: the newest mtime the tree has seen for the directory, which a listing must reach."""


class DirState:
    """The numbers one directory carries (see the module docstring)."""

    __slots__ = ("below", "known", "listed", "marker", "own", "unlisted")

    def __init__(self) -> None:
        self.below = NEVER
        self.own = NEVER
        self.known = 0.0
        """0.0 < ``listed`` = NEVER: a directory the tree made implicitly was never listed."""
        self.listed = NEVER
        self.marker = NEVER
        self.unlisted = 0

    @property
    def is_unlisted(self) -> bool:
        return self.listed < self.known

    @property
    def newest(self) -> float:
        return self.below if self.below > self.own else self.own


def marker_matcher(globs: Sequence[str]) -> Callable[[str], object] | None:
    """One compiled test for "this file name is a marker" (None when no marker is configured)."""
    if not globs:
        return None
    return re.compile("|".join(f"(?:{translate(glob)})" for glob in globs)).match


class CompletionTracker:
    """The aggregates of one view's directories and the ``complete`` list they decide.

    :param complete: the published list of complete directories (the flag's membership).
    :param awaiting: the published list of unlisted directories (kept for a restart's rebuild).
    :param markers: a test on file names; None selects settle mode.
    :param any_suspect_under: whether anything at or below a path is suspect (settle mode).
    """

    def __init__(
        self,
        complete: PathList,
        awaiting: PathList,
        *,
        markers: Callable[[str], object] | None,
        settle_s: float,
        recheck_s: float,
        any_suspect_under: Callable[[str], bool],
    ) -> None:
        self.complete = complete
        self.awaiting = awaiting
        self._awaiting_net: dict[str, float | None] = {}
        """Changes of ``awaiting`` during the current input, applied by :meth:`flush_awaiting`:
        a snapshot batch makes each directory and lists it at once, and three list operations
        per directory (made, mtime known, listed) cost 8 % of snapshot ingest, where the net
        change — nothing — costs one dict entry."""
        self.markers = markers
        self.settle_s = settle_s
        self.recheck_s = recheck_s
        self.any_suspect_under = any_suspect_under
        self.dirs: dict[str, DirState] = {}
        self._due: list[tuple[float, str]] = []
        self._pending: set[str] = set()
        self._waiting: set[str] = set()
        """Settled directories that wait for a listing below them (not in the heap meanwhile)."""
        self._touched: dict[str, None] = {}
        """Marker mode: directories to decide at the end of the current batch."""
        self.top_level = 0
        self.top_level_complete = 0
        self.restore_checked = False

    # -- the directory records ---------------------------------------------------------------

    def state(self, path: str) -> DirState:
        """The record of directory ``path``, made (with its missing ancestors) on first use."""
        st = self.dirs.get(path)
        if st is not None:
            return st
        st = self.dirs[path] = DirState()
        if path != "/":
            parent = parent_of(path)
            if parent == "/":
                self.top_level += 1
            self.state(parent)
        self._awaiting_net[path] = st.known  # never listed yet
        self._count_unlisted(path, +1)
        return st

    def _count_unlisted(self, path: str, delta: int) -> None:
        """A directory became unlisted (+1) or listed (-1): adjust it and every ancestor."""
        dirs = self.dirs
        p = path
        while True:
            st = dirs[p]
            st.unlisted += delta
            if delta > 0:
                if self.markers is None:
                    self._undo_completion(p)
            elif st.unlisted == 0 and p in self._waiting:
                self._waiting.discard(p)
                self._schedule(p, NEVER)
            if p == "/":
                return
            p = parent_of(p)

    # -- what the ingest path reports --------------------------------------------------------

    def changed_below(self, directory: str, t: float) -> None:
        """Something directly in ``directory`` changed at time ``t``: raise ``below`` up the
        chain, as far as it rises, undoing completions (settle mode) on the way."""
        p = directory
        while True:
            st = self.state(p)
            if t <= st.below:
                return
            st.below = t
            self._after_change(p, st)
            if p == "/":
                return
            p = parent_of(p)

    def directory_row(self, path: str, t: float, mtime: float) -> None:
        """A row for directory ``path`` was written (``t``: its change time, counted for its
        parent by :meth:`changed_below`)."""
        st = self.state(path)
        if mtime > st.known:
            self._set_known(path, st, mtime)
        if t > st.own:
            st.own = t
            self._after_change(path, st)

    def directory_listed(self, path: str, mtime: float) -> None:
        """A scan listed directory ``path`` fully, which had ``mtime`` when it was listed."""
        st = self.state(path)
        if mtime > st.known:
            self._set_known(path, st, mtime)
        if mtime > st.listed:
            was_unlisted = st.is_unlisted
            st.listed = mtime
            if was_unlisted and not st.is_unlisted:
                self._awaiting_net[path] = None
                self._count_unlisted(path, -1)

    def _set_known(self, path: str, st: DirState, mtime: float) -> None:
        was_unlisted = st.is_unlisted
        st.known = mtime
        if st.is_unlisted:
            self._awaiting_net[path] = mtime
            if not was_unlisted:
                self._count_unlisted(path, +1)

    def directory_mtime(self, path: str, mtime: float) -> None:
        """Realtime told the directory's new mtime (an entry came or went): it is unlisted until
        a scan lists it again."""
        st = self.state(path)
        if mtime > st.known:
            self._set_known(path, st, mtime)

    def marker_seen(self, directory: str, t: float) -> None:
        st = self.state(directory)
        if t > st.marker:
            st.marker = t
        self._touched[directory] = None

    def marker_gone(self, directory: str, remaining: Iterable[float]) -> None:
        """A marker in ``directory`` was deleted; ``remaining`` are the change times of those left."""
        st = self.dirs.get(directory)
        if st is not None:
            st.marker = max(remaining, default=NEVER)
            self._touched[directory] = None

    def removed(self, path: str) -> None:
        """``path`` left the tree; if it was a directory, forget its subtree's records."""
        st = self.dirs.get(path)
        if st is None:
            return
        if st.unlisted and path != "/":
            self._count_unlisted(parent_of(path), -st.unlisted)
        doomed = [p for p in self.dirs if is_under(p, path)]
        for p in doomed:
            del self.dirs[p]
            self._pending.discard(p)
            self._waiting.discard(p)
            self._touched.pop(p, None)
            if p != "/" and parent_of(p) == "/":
                self.top_level -= 1
        if path == "/":
            self.top_level = self.top_level_complete = 0
            self.complete.clear()
            self._awaiting_net.clear()
            self.awaiting.clear()
            return
        self.flush_awaiting()
        self.awaiting.discard_under(path)
        for p in doomed:
            if p != "/" and parent_of(p) == "/" and p in self.complete:
                self.top_level_complete -= 1
        self.complete.discard_under(path)

    # -- deciding ----------------------------------------------------------------------------

    def _after_change(self, path: str, st: DirState) -> None:
        if self.markers is not None:
            self._touched[path] = None
            return
        self._undo_completion(path)
        self._schedule(path, st.newest + self.settle_s)

    def _undo_completion(self, path: str) -> None:
        complete = self.complete
        if complete and complete.discard(path) is not None and path != "/" and parent_of(path) == "/":
            self.top_level_complete -= 1

    def _make_complete(self, path: str, now: float, how: str) -> None:
        if path in self.complete:
            return
        self.complete.put(path, since=now, how=how)
        if path != "/" and parent_of(path) == "/":
            self.top_level_complete += 1

    def _schedule(self, path: str, due: float) -> None:
        """Have ``path`` decided at ``due`` at the earliest. A directory is in the heap once: a
        later change moves its settle time on without a push (the heap entry, popped early,
        finds the new time and goes back in), so a stream of writes costs a set lookup each."""
        self._waiting.discard(path)
        if path in self._pending:
            return
        self._pending.add(path)
        heapq.heappush(self._due, (due, path))

    def reconsider(self, path: str) -> None:
        """Decide ``path`` again from its numbers (after a rebuild): at the end of the next batch
        in marker mode, when it settles otherwise."""
        st = self.dirs[path]
        if self.markers is not None:
            self._touched[path] = None
        else:
            self._schedule(path, st.newest + self.settle_s)

    def flush_awaiting(self) -> None:
        """Apply the net changes of ``awaiting`` (before anyone reads the list: at the end of
        each input, and before a removal works on it)."""
        net = self._awaiting_net
        if not net:
            return
        awaiting = self.awaiting
        for path, mtime in net.items():
            if mtime is not None:
                awaiting.put(path, mtime=mtime)
            elif path in awaiting:
                awaiting.discard(path)
        net.clear()

    def end_of_batch(self, now: float) -> list[str]:
        """Marker mode: decide the directories this batch touched. Returns those completed.
        Both modes: the batch's changes of ``awaiting`` are applied."""
        self.flush_awaiting()
        if not self._touched:
            return []
        done: list[str] = []
        for path in self._touched:
            st = self.dirs.get(path)
            if st is None:
                continue
            if st.marker >= st.below and st.marker > NEVER:
                if path not in self.complete:
                    self._make_complete(path, now, "marker")
                    done.append(path)
            else:
                self._undo_completion(path)
        self._touched.clear()
        return done

    def settle(self, watermark: float, now: float, limit: int) -> list[str]:
        """Settle mode: decide the directories whose settle time passed (at most ``limit``).

        Returns those completed. One that still holds a suspect is looked at again after
        ``recheck_s``; one that waits for a listing below it, when that listing comes.
        """
        done: list[str] = []
        heap, pending = self._due, self._pending
        checked = 0
        while heap and heap[0][0] <= watermark and checked < limit:
            _, path = heapq.heappop(heap)
            if path not in pending:
                continue  # forgotten (its directory left the tree)
            pending.discard(path)
            st = self.dirs.get(path)
            if st is None:
                continue
            checked += 1
            settles_at = st.newest + self.settle_s
            if settles_at > watermark:
                self._schedule(path, settles_at)
            elif st.unlisted:
                self._waiting.add(path)
            elif self.any_suspect_under(path):
                self._schedule(path, watermark + self.recheck_s)
            elif path not in self.complete:
                self._make_complete(path, now, "settled")
                done.append(path)
        return done

    def pending(self) -> int:
        """Directories scheduled or waiting for a decision."""
        return len(self._pending) + len(self._waiting)

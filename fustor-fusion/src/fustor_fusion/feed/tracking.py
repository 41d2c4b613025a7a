"""``ChangeTracker``: what the current input of a view changes, made into its outcome at the end.

Two kinds of change reach the tracker while an input is applied:

* **tree writes**, from the engine through the merge-rule hooks it already calls with what it
  did (:mod:`.hooks`: an event's written rows and deleted paths, directories refreshed by
  realtime rows, what a scan's end deleted, what sentinel feedback rewrote) — so the tracking
  follows the engine wherever that code lives;
* **flag transitions**: a flag whose predicate is the ``__contains__`` of a published
  :class:`~fustor_core.pathlist.PathList` changes exactly when that list's membership does, which
  the list reports to its watcher (:meth:`~fustor_core.pathlist.PathList.watch`) — whichever rule
  code, tick or eviction caused it. Any other flag is reported by its rule with
  ``view.flags_changed(paths)``.

When the input ends, :meth:`ChangeTracker.finish` looks up the nodes that changed without a row
of their own, evaluates every flag on the upserted nodes (a list-backed flag in bulk, and not at
all while its list is empty — the common case on the ingest path) and numbers the entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import compress
from typing import TYPE_CHECKING, Any

from fustor_core.arbitration import MissingCandidates
from fustor_core.pathlist import PathList
from fustor_fusion.engine.view import NEVER
from fustor_fusion.feed.outcome import Outcome

if TYPE_CHECKING:
    from fustor_fusion.engine import View

Predicate = Callable[[str], bool]


def backing_list(predicate: Predicate) -> PathList | None:
    """The list whose membership *is* the flag (``some_list.__contains__``), else None."""
    owner = getattr(predicate, "__self__", None)
    if isinstance(owner, PathList) and getattr(predicate, "__func__", None) is PathList.__contains__:
        return owner
    return None


class ChangeTracker:
    """Collects the changes of one input at a time; numbers them for the view's change feed."""

    def __init__(self, view: View) -> None:
        self._view = view
        self.next_number = 1
        """The number the next change gets (the view's count of changes so far, plus one)."""
        self.active = False
        """True while an input is applied live (not while it is replayed)."""
        self._watched: dict[int, PathList] = {}
        self._clear()

    def _clear(self) -> None:
        self._rows: Sequence[Any] = ()
        self._kept: Sequence[int] = ()
        self._nodes: dict[str, None] = {}
        self._flagged: dict[str, None] = {}
        self._deleted: dict[str, bool | None] = {}
        self._candidates: MissingCandidates | None = None

    # -- during an input ------------------------------------------------------------------------

    def begin(self) -> None:
        self._clear()
        self.active = True

    def rows_written(self, rows: Sequence[Any], kept: Sequence[int]) -> None:
        """An event's rows ``rows[i] for i in kept`` were written to the tree."""
        if not kept:
            return
        if self._kept:  # a second event in one input: its nodes are looked up at the end
            self.nodes_changed([rows[i].path for i in kept])
            return
        self._rows, self._kept = rows, kept

    def nodes_changed(self, paths: Iterable[str]) -> None:
        """These nodes were written without a row of their own; their state is looked up at the end."""
        self._nodes.update(dict.fromkeys(paths))

    def flags_changed(self, paths: Iterable[str]) -> None:
        """The flags of these nodes may have changed (a list's membership, or a rule's word)."""
        if self.active:
            self._flagged.update(dict.fromkeys(paths))

    def scan_candidates(self, candidates: MissingCandidates) -> None:
        """A scan's end offered these nodes for deletion (their kinds name the deleted ones)."""
        self._candidates = candidates

    def deleted(self, paths: Iterable[str], is_dir: Mapping[str, bool] | None = None) -> None:
        """These nodes (each with its subtree) were removed from the tree."""
        kinds = is_dir if is_dir is not None else self._candidate_kinds()
        for path in paths:
            self._deleted[path] = kinds.get(path)

    def _candidate_kinds(self) -> Mapping[str, bool]:
        candidates = self._candidates
        if candidates is None:
            return {}
        return {path: info.is_dir for path, info in zip(candidates.paths, candidates.infos, strict=True)}

    # -- at its end -----------------------------------------------------------------------------

    def finish(self) -> Outcome | None:
        """The input's outcome (None when it changed nothing); its entries are numbered."""
        self.active = False
        flags = self._view.flags()
        self._watch(flags)
        rows, kept, deleted = self._rows, self._kept, self._deleted
        extra = self._nodes
        if self._flagged:
            written = {rows[i].path for i in kept} if kept else set()
            extra = dict(extra)
            for path in self._flagged:
                if path not in written:
                    extra[path] = None
        if deleted and extra:
            extra = {path: None for path in extra if path not in deleted}
        nodes = []
        if extra:
            paths = list(extra)
            nodes = [
                (path, info.is_dir, info.size, info.mtime)
                for path, info in zip(paths, self._view.lookup(paths), strict=True)
                if info is not None
            ]
        count = len(kept) + len(nodes) + len(deleted)
        if not count:
            self._clear()
            return None
        outcome = Outcome(
            first=self.next_number,
            rows=rows,
            kept=kept,
            nodes=nodes,
            deleted=list(deleted.items()),
            flags=self._evaluate(flags, rows, kept, nodes),
        )
        self.next_number += count
        self._clear()
        return outcome

    def _evaluate(
        self, flags: Mapping[str, Predicate], rows: Sequence[Any], kept: Sequence[int], nodes: list[Any]
    ) -> dict[str, list[int]]:
        """Flag name -> positions of the upserted nodes (rows, then nodes) where it is true."""
        answer: dict[str, list[int]] = {}
        paths: list[str] | None = None
        for name, predicate in flags.items():
            entries = backing_list(predicate)
            if predicate is NEVER or (entries is not None and not entries):
                answer[name] = []
                continue
            if paths is None:
                paths = [rows[i].path for i in kept]
                paths.extend(node[0] for node in nodes)
            values = entries.contains_many(paths) if entries is not None else list(map(predicate, paths))
            answer[name] = list(compress(range(len(paths)), values))
        return answer

    def watch_flag_lists(self) -> None:
        """Start watching the lists behind the view's flags (once the rules published them)."""
        self._watch(self._view.flags())

    def _watch(self, flags: Mapping[str, Predicate]) -> None:
        """Watch every list that backs a flag (once; lists live as long as the view)."""
        for predicate in flags.values():
            entries = backing_list(predicate)
            if entries is not None and id(entries) not in self._watched:
                self._watched[id(entries)] = entries
                entries.watch(self.flags_changed)

    def replayed(self, first: int, count: int) -> None:
        """A replayed record's outcome: numbering continues after it."""
        self.next_number = max(self.next_number, first + count)

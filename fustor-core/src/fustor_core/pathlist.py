"""The path lists the list-keeping merge rules share: suspects, tombstones, blind spots.

Each is a map "path -> a little record" that must answer membership in O(1)-ish time (flags are
checked per node of every query answer, rules check rows on the ingest path), be paged in a
stable order, lose whole subtrees when a directory goes, expire by age and stay bounded — with a
million entries after a fresh upload. So a :class:`PathList` is laid out for bytes per entry
(23-43 bytes for the default rules' records, against 385-555 for a dict per path):

* entries are grouped by parent directory and kept by *name*, the interned ``str`` the tree
  store already holds (:mod:`fustor_core.pathlist_dirs`), sorted, in chunks;
* records are packed columns, one machine value per field (:mod:`fustor_core.pathlist_records`);
* directories are ordered by a chunked sorted set (:mod:`fustor_core.sorted_strings`), so a page
  is O(log n + page) and a subtree is one contiguous range of directories;
* age order (expiry, eviction, "oldest first") is a heap with one item per *chunk*, keyed by a
  lower bound of the oldest age in it, rather than one item per entry.

**Watching.** :meth:`PathList.watch` registers a callback told of every path whose *membership*
changes (listed or unlisted, by any call: put, discard, expiry, eviction, clear). Fusion's change
feed watches the lists behind flags (``integrity_suspect`` is membership of ``suspects``), so a
flag set or cleared is reported whatever rule code did it; an unwatched list pays nothing.

**Order.** Pages and iteration go by (directory, name): the entries of ``/a`` (sorted by name),
then those of ``/a/b``, then ``/a/c``... :func:`order_key` gives a path's place; a page's cursor is
the last path returned.
"""

from __future__ import annotations

import heapq
import logging
import math
import sys
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, compress, groupby, repeat
from operator import itemgetter, not_
from typing import Any

from fustor_core.logs import log_event
from fustor_core.pathlist_dirs import Chunk, Directory
from fustor_core.pathlist_records import MISSING, RecordLayout
from fustor_core.sorted_strings import SortedStrings

MembershipWatcher = Callable[[list[str]], None]
"""Told the paths whose membership in a list changed (see :meth:`PathList.watch`)."""

_HEAD = itemgetter(0)
_NAME = itemgetter(2)
_intern = sys.intern


def split_path(path: str) -> tuple[str, str]:
    """(parent directory, name) of a datastore path; the root is ``("/", "")``."""
    head, _, name = path.rpartition("/")
    return head or "/", name


def order_key(path: str) -> tuple[str, str]:
    """Where ``path`` sorts in a list's pages and iteration: by directory, then by name."""
    return split_path(path)


def _names_and_runs(paths: Sequence[str]) -> tuple[list[str], list[tuple[str, int]]]:
    """The name of each path, and the runs of consecutive paths in one directory as
    ``(directory, length)``. Built in C-level passes that keep no tuple per path alive: a batch's
    worth of live GC-tracked objects would make the collector run several times per batch."""
    heads: list[str] = []
    names: list[str] = []
    for start in range(0, len(paths), 512):  # a block's tuples die young: below gen0's threshold
        parts = list(map(str.rpartition, paths[start : start + 512], repeat("/")))
        heads.extend(map(_HEAD, parts))
        names.extend(map(_NAME, parts))
    return names, [(head or "/", len(list(group))) for head, group in groupby(heads)]


def _listed_paths(d: Directory) -> list[str]:
    """Every path listed in directory ``d``."""
    child = d.child
    return [child(name) for chunk in d.chunks for name in chunk.names]


def log_evictions(entries: PathList, logger: logging.Logger, *, view: str, name: str) -> None:
    """One warning when a list's bound evicted entries since the last call (rules call it on the
    tick, so an overflowing list logs at most once per tick, not once per put)."""
    count = entries.new_evictions()
    if count:
        log_event(
            logger,
            logging.WARNING,
            "list bound reached: oldest entries evicted",
            view=view,
            list=name,
            evicted=count,
            max_entries=entries.max_entries,
        )


class PathList:
    """A map of path -> record with subtree removal, paging, expiry by age and a size bound.

    :param fields: the record fields and their types (``float``, ``int``, ``bool``, ``str`` for a
        few repeated values such as a reason, ``object`` for anything else). Declared typed
        fields are packed and must be given in every put. Fields not declared are accepted too
        (kept as objects, about 8 bytes per entry more), so ``PathList()`` takes free-form records.
    :param age: the ``float`` field that dates an entry (a deadline or a time of recording):
        :meth:`due`, :meth:`expire`, :meth:`oldest` and eviction go by it. Without one, an
        entry's age is the order of puts (least recently put is oldest).
    :param max_entries: a hard bound; a put that exceeds it evicts the oldest entries (a few
        percent more than needed, so eviction runs are rare) and counts them in :attr:`evicted`.
    """

    __slots__ = (
        "_dirs",
        "_evictions_reported",
        "_heap",
        "_heap_limit",
        "_layout",
        "_max",
        "_order",
        "_puts",
        "_size",
        "_tickets",
        "_watcher",
        "evicted",
    )

    def __init__(
        self,
        fields: Mapping[str, type] | None = None,
        *,
        age: str | None = None,
        max_entries: int | None = None,
    ) -> None:
        if max_entries is not None and max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._layout = RecordLayout(fields, age=age)
        self._dirs: dict[str, Directory] = {}
        self._order = SortedStrings()
        self._heap: list[tuple[float, int, Chunk]] = []
        self._heap_limit = 1024
        self._tickets = 0
        self._size = 0
        self._puts = 0
        self._max = max_entries
        self.evicted = 0
        """How many entries the size bound has evicted since the list was made."""
        self._evictions_reported = 0
        self._watcher: MembershipWatcher | None = None

    def watch(self, watcher: MembershipWatcher | None) -> None:
        """Call ``watcher`` with the paths whose membership changes from now on (None: stop).

        Each call that lists new paths or unlists paths — put, put_many, discard, discard_many,
        discard_under, clear, expire, eviction by the size bound — reports them once it is done
        (a record replaced for a path already listed is not a change of membership). One watcher
        per list: a newer one replaces the older.
        """
        self._watcher = watcher

    @property
    def max_entries(self) -> int | None:
        """The size bound (None: unbounded)."""
        return self._max

    def new_evictions(self) -> int:
        """How many entries were evicted since the last call (for a log line per episode)."""
        count = self.evicted - self._evictions_reported
        self._evictions_reported = self.evicted
        return count

    # -- reading ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    def __contains__(self, path: object) -> bool:
        if not self._size or not isinstance(path, str):
            return False
        head, _, name = path.rpartition("/")
        d = self._dirs.get(head or "/")
        if d is None:
            return False
        chunks = d.chunks
        if len(chunks) == 1:
            chunk = chunks[0]
            if not chunk.ordered:
                d.order()
            names = chunk.names
        else:
            names = chunks[max(bisect_right(d.firsts, name) - 1, 0)].names
        i = bisect_left(names, name)
        return i < len(names) and names[i] == name

    def __iter__(self) -> Iterator[str]:
        """Every listed path, in list order (safe to change the list meanwhile)."""
        for dpath in list(self._order):
            d = self._dirs.get(dpath)
            if d is not None:
                d.order()
                yield from [d.child(name) for chunk in d.chunks for name in chunk.names]

    def get(self, path: str) -> dict[str, Any] | None:
        """The record for ``path``, if listed."""
        d, ci, i = self._find(path)
        if d is None:
            return None
        return self._layout.record(d.chunks[ci].cols, i)

    def get_many(self, paths: Sequence[str], field: str) -> list[Any]:
        """The value of ``field`` for each path (None where the path is not listed), looked up a
        directory at a time: the bulk read of the ingest path."""
        if not self._size:
            return [None] * len(paths)
        layout = self._layout
        k = layout.index_of(field)
        out: list[Any] = []
        dirs = self._dirs
        all_names, runs = _names_and_runs(paths)
        pos = 0
        for dpath, run_length in runs:
            stop = pos + run_length
            d = dirs.get(dpath)
            if d is None:
                out.extend(repeat(None, run_length))
                pos = stop
                continue
            names = all_names[pos:stop]
            pos = stop
            values: list[Any] = [None] * run_length
            for ci, positions, indices in d.find_many(names):
                col = d.chunks[ci].cols[k]
                for j, i in zip(indices, positions, strict=True):
                    stored = col[i]
                    values[j] = None if stored is MISSING else layout.decode(k, stored)
            out.extend(values)
        return out

    def contains_many(self, paths: Sequence[str]) -> list[bool]:
        """Whether each path is listed, looked up a directory at a time: the bulk form of ``in``
        (an empty list answers at once)."""
        if not self._size:
            return [False] * len(paths)
        out: list[bool] = []
        dirs = self._dirs
        all_names, runs = _names_and_runs(paths)
        pos = 0
        for dpath, run_length in runs:
            stop = pos + run_length
            hits = [False] * run_length
            d = dirs.get(dpath)
            if d is not None:
                for _, _, indices in d.find_many(all_names[pos:stop]):
                    for j in indices:
                        hits[j] = True
            out.extend(hits)
            pos = stop
        return out

    def items(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """All (path, record) pairs in list order (safe to change the list meanwhile)."""
        records = self._layout.records
        for dpath in list(self._order):
            d = self._dirs.get(dpath)
            if d is None:
                continue
            d.order()
            pairs = [
                (d.child(name), record)
                for chunk in d.chunks
                for name, record in zip(chunk.names, records(chunk.cols, 0, len(chunk.names)), strict=True)
            ]
            yield from pairs

    def page(self, *, after: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Up to ``limit`` entries after path ``after`` in list order, each ``{path, **record}``.

        O(log n + limit): the starting directory and name are found by bisection.
        """
        out: list[dict[str, Any]] = []
        if limit <= 0 or not self._size:
            return out
        start_dir, start_name = ("", None) if after is None else split_path(after)
        records = self._layout.records
        for dpath in self._order.iter_from(start_dir):
            d = self._dirs[dpath]
            d.order()
            ci = i = 0
            if start_name is not None and dpath == start_dir:
                ci = max(bisect_right(d.firsts, start_name) - 1, 0)
                i = bisect_right(d.chunks[ci].names, start_name)
            for chunk in d.chunks[ci:]:
                names = chunk.names
                stop = min(len(names), i + limit - len(out))
                if i < stop:
                    child = d.child
                    out.extend(
                        {"path": child(name), **record}
                        for name, record in zip(names[i:stop], records(chunk.cols, i, stop), strict=True)
                    )
                if len(out) >= limit:
                    return out
                i = 0
        return out

    # -- age order -------------------------------------------------------------------------

    def due(self, until: float, *, limit: int | None = None) -> list[str]:
        """Listed paths whose age field is ``<= until``, oldest first, at most ``limit``.

        They stay listed: the caller renews or removes each one; any it leaves are offered again
        by the next call. Costs O(chunks touched), not a walk of the list.
        """
        found: list[tuple[float, str, str]] = []
        heap = self._heap
        a = self._layout.age
        popped: list[Chunk] = []
        bar = until  # once ``limit`` are found, only older entries can still make the cut
        while heap and heap[0][0] <= bar:
            _, ticket, chunk = heapq.heappop(heap)
            if not chunk.alive or ticket != chunk.ticket:
                continue
            popped.append(chunk)
            dpath = chunk.directory.path
            found.extend(
                (t, dpath, name) for name, t in zip(chunk.names, chunk.cols[a], strict=True) if t <= bar
            )
            if limit is not None and len(found) >= limit:
                found = heapq.nsmallest(limit, found)
                bar = found[-1][0] if found else -math.inf
        for chunk in popped:
            self._schedule(chunk, min(chunk.cols[a]))
        found.sort()
        return [self._dirs[d].child(name) for _, d, name in found]

    def expire(self, before: float) -> int:
        """Remove every entry whose age field is ``< before``; returns how many went."""
        return self._remove_aged(before, 0)

    def oldest(self, limit: int) -> list[str]:
        """Up to ``limit`` listed paths, oldest first (by the age field)."""
        if limit <= 0 or not self._size:
            return []
        heap = list(self._heap)
        a = self._layout.age
        best: list[tuple[float, str, str]] = []
        worst_kept = math.inf
        while heap:
            key, ticket, chunk = heapq.heappop(heap)
            if not chunk.alive or ticket != chunk.ticket:
                continue
            if key > worst_kept:
                break
            dpath = chunk.directory.path
            best.extend(
                (t, dpath, name)
                for name, t in zip(chunk.names, chunk.cols[a], strict=True)
                if t <= worst_kept
            )
            if len(best) >= limit:
                best = heapq.nsmallest(limit, best)
                worst_kept = best[-1][0]
        best.sort()
        return [self._dirs[d].child(name) for _, d, name in best[:limit]]

    # -- writing ---------------------------------------------------------------------------

    def put(self, path: str, **record: Any) -> None:
        """List ``path`` (replacing any earlier record)."""
        head, name = split_path(path)
        values = self._values(record)
        d = self._dirs.get(head)
        if d is None:
            self._fill(self._new_dir(head), [_intern(name)], [[value] for value in values])
            listed = True
        else:
            listed = self._put_into(d, _intern(name), values)
        if listed and self._watcher is not None:
            self._watcher([path])
        self._bound()

    def put_many(
        self,
        paths: Sequence[str],
        *,
        unless_same: str | None = None,
        keep: Collection[str] = (),
        **columns: Any,
    ) -> None:
        """List every path of ``paths`` at once — the bulk write of the ingest path.

        Each other keyword is a field: a list (or tuple, array) with one value per path, or a
        single value for all. A path given twice keeps its last values. Runs of paths that share
        a directory (batches arrive grouped by directory) are written a run at a time.

        :param unless_same: a field: a path already listed with the same value of it is left
            untouched (e.g. a suspect seen again with an unchanged mtime keeps its deadline).
        :param keep: fields an already listed path keeps (e.g. when it was first marked).
            With ``unless_same`` or ``keep``, give each path at most once.
        """
        count = len(paths)
        if not count:
            return
        layout = self._layout
        same_k = None if unless_same is None else layout.index_of(unless_same)
        keep_ks = frozenset(map(layout.index_of, keep))
        cols: list[Any] = [MISSING] * len(layout.names)
        for field, values in columns.items():
            k = layout.positions.get(field)
            if k is None:
                k = self._add_free_field(field)
                cols.append(MISSING)
            cols[k] = layout.encode_many(k, values, count)
        if layout.hidden_order:
            cols[layout.age] = [float(n) for n in range(self._puts + 1, self._puts + count + 1)]
            self._puts += count
        self._require(cols)
        per_entry = [isinstance(values, list) for values in cols]
        all_names, runs = _names_and_runs(paths)
        added: list[str] | None = [] if self._watcher is not None else None
        pos = 0
        for dpath, run_length in runs:
            stop = pos + run_length
            names = list(map(_intern, all_names[pos:stop]))
            d = self._dirs.get(dpath)
            if d is None:
                run = [
                    values[pos:stop] if listed else values
                    for values, listed in zip(cols, per_entry, strict=True)
                ]
                self._fill(self._new_dir(dpath), names, run)
                if added is not None:
                    added.extend(paths[pos:stop])
            else:
                for j, name in enumerate(names, pos):
                    row = [
                        values[j] if listed else values
                        for values, listed in zip(cols, per_entry, strict=True)
                    ]
                    if self._put_into(d, name, row, same_k, keep_ks) and added is not None:
                        added.append(paths[j])
            pos = stop
        if added and self._watcher is not None:
            self._watcher(added)
        self._bound()

    def discard(self, path: str) -> dict[str, Any] | None:
        """Unlist ``path``; returns its record if it was listed."""
        d, ci, i = self._find(path)
        if d is None:
            return None
        record = self._layout.record(d.chunks[ci].cols, i)
        d.remove(ci, i)
        self._size -= 1
        self._forget_if_empty(d)
        if self._watcher is not None:
            self._watcher([path])
        return record

    def discard_many(self, paths: Iterable[str]) -> int:
        """Unlist each of ``paths``; returns how many were listed. A run of paths in a directory
        without entries costs one dictionary lookup."""
        if not self._size:
            return 0
        removed = 0
        dirs = self._dirs
        layout = self._layout
        gone: list[str] | None = [] if self._watcher is not None else None
        for head, group in groupby(map(str.rpartition, paths, repeat("/")), key=_HEAD):
            d = dirs.get(head or "/")
            if d is None:
                continue
            for ci, positions, _ in reversed(d.find_many(list(map(_NAME, group)))):
                doomed = set(positions)  # a path given twice is removed once
                removed += len(doomed)
                if gone is not None:
                    names = d.chunks[ci].names
                    gone.extend(d.child(names[i]) for i in doomed)
                d.remove_positions(layout, ci, doomed)
            self._forget_if_empty(d)
        self._size -= removed
        if gone and self._watcher is not None:
            self._watcher(gone)
        return removed

    def discard_under(self, prefix: str) -> int:
        """Unlist ``prefix`` and everything below it; returns how many were removed.

        O(log n + directories removed): the directories below ``prefix`` are one range of the
        directory order.
        """
        if prefix == "/":
            removed = self._size
            self.clear()
            return removed
        removed = 1 if self.discard(prefix) is not None else 0
        gone: list[str] | None = [] if self._watcher is not None else None
        for dpath in [prefix, *self._order.between(prefix + "/", prefix + "0")]:  # "0" follows "/"
            d = self._dirs.pop(dpath, None)
            if d is not None:
                self._order.discard(dpath)
                if gone is not None:
                    gone.extend(_listed_paths(d))
                count = d.drop()
                self._size -= count
                removed += count
        if gone and self._watcher is not None:
            self._watcher(gone)
        return removed

    def discard_under_any(self, prefixes: Collection[str]) -> None:
        """Unlist every path at or below any of ``prefixes``."""
        if not self._size or not prefixes:
            return
        roots = set(prefixes)
        if "/" in roots:
            self.clear()
            return
        for prefix in roots:
            self.discard_under(prefix)

    def clear(self) -> None:
        """Unlist everything (the eviction count stays)."""
        gone: list[str] | None = [] if self._watcher is not None and self._size else None
        for d in self._dirs.values():
            if gone is not None:
                gone.extend(_listed_paths(d))
            d.drop()
        self._dirs.clear()
        self._order.clear()
        self._heap.clear()
        self._size = 0
        if gone and self._watcher is not None:
            self._watcher(gone)

    # -- internals -------------------------------------------------------------------------

    def _find(self, path: str) -> tuple[Directory, int, int] | tuple[None, int, int]:
        head, name = split_path(path)
        d = self._dirs.get(head)
        if d is None:
            return None, 0, 0
        ci, i, found = d.locate(name)
        return (d, ci, i) if found else (None, 0, 0)

    def _values(self, record: Mapping[str, Any]) -> list[Any]:
        """One put's record in stored form, one value per column."""
        layout = self._layout
        values: list[Any] = [MISSING] * len(layout.names)
        for field, value in record.items():
            k = layout.positions.get(field)
            if k is None:
                k = self._add_free_field(field)
                values.append(MISSING)
            values[k] = layout.encode(k, value)
        if layout.hidden_order:
            self._puts += 1
            values[layout.age] = float(self._puts)
        self._require(values)
        return values

    def _require(self, values: list[Any]) -> None:
        layout = self._layout
        missing = [layout.names[k] for k in layout.required if values[k] is MISSING]
        if missing:
            raise TypeError(f"missing record fields: {', '.join(missing)}")

    def _add_free_field(self, field: str) -> int:
        """A field this list did not declare: an object column, filled for existing entries."""
        k = self._layout.add_free_field(field)
        for d in self._dirs.values():
            for chunk in d.chunks:
                chunk.cols.append(RecordLayout.missing_column(len(chunk.names)))
        return k

    def _new_dir(self, path: str) -> Directory:
        d = self._dirs[path] = Directory(path)
        self._order.add(path)
        return d

    def _forget_if_empty(self, d: Directory) -> None:
        if not d.chunks:
            del self._dirs[d.path]
            self._order.discard(d.path)

    def _fill(self, d: Directory, names: list[str], cols: list[Any]) -> None:
        """Fill a new directory with a run of entries (in any order, repeats: last wins); each of
        ``cols`` is a list of one value per name, or one value for all.

        A run that fits one chunk is stored as it came and sorted on the directory's first read
        (:meth:`Directory.order`): the ingest path of a fresh upload does not pay for the sort,
        and a directory nobody reads before its entries go never pays for it at all.
        """
        count = len(names)
        if count > 1 and len(set(names)) != count:  # a name given twice: its last values count
            order = list(dict(zip(names, range(count), strict=True)).values())
            names = list(map(names.__getitem__, order))
            cols = [
                list(map(values.__getitem__, order)) if isinstance(values, list) else values
                for values in cols
            ]
        self._size += len(names)
        a = self._layout.age
        for chunk in d.fill(self._layout, names, cols, ordered=count < 2):
            self._schedule(chunk, min(chunk.cols[a]))

    def _put_into(
        self,
        d: Directory,
        name: str,
        values: list[Any],
        same_k: int | None = None,
        keep_ks: frozenset[int] = frozenset(),
    ) -> bool:
        """Write one entry into an existing directory; True when ``name`` was not listed before."""
        ci, i, found = d.locate(name)
        chunk = d.chunks[ci]
        a = self._layout.age
        if found:
            cols = chunk.cols
            if same_k is not None and cols[same_k][i] == values[same_k]:
                return False
            for k, value in enumerate(values):
                if k not in keep_ks:
                    cols[k][i] = value
            if cols[a][i] < chunk.sched:
                self._schedule(chunk, cols[a][i])
            return False
        if values[a] < chunk.sched:
            self._schedule(chunk, values[a])
        self._size += 1
        tail = d.insert(ci, i, name, values)
        if tail is not None:
            self._schedule(tail, min(tail.cols[self._layout.age]))
        return True

    def _schedule(self, chunk: Chunk, key: float) -> None:
        """Make ``key`` (<= every age in the chunk) the chunk's place in the age heap."""
        self._tickets += 1
        chunk.sched = key
        chunk.ticket = self._tickets
        heap = self._heap
        heapq.heappush(heap, (key, self._tickets, chunk))
        if len(heap) > self._heap_limit:  # stale items of renewed or dropped chunks pile up
            live = [(c.sched, c.ticket, c) for d in self._dirs.values() for c in d.chunks]
            heapq.heapify(live)
            self._heap = live
            self._heap_limit = 2 * len(live) + 1024

    def _bound(self) -> None:
        """Evict the oldest entries when the list exceeds its bound (down to ~97% of it)."""
        limit = self._max
        if limit is None or self._size <= limit:
            return
        count = self._size - (limit - limit // 32)
        a = self._layout.age
        ages = heapq.nsmallest(
            count, chain.from_iterable(c.cols[a] for d in self._dirs.values() for c in d.chunks)
        )
        cutoff = ages[-1]
        self.evicted += self._remove_aged(cutoff, count - bisect_left(ages, cutoff))

    def _remove_aged(self, cutoff: float, ties: int) -> int:
        """Remove the entries aged ``< cutoff`` and ``ties`` of those aged exactly ``cutoff``."""
        heap = self._heap
        a = self._layout.age
        layout = self._layout
        removed = 0
        touched: list[Chunk] = []
        gone: list[str] | None = [] if self._watcher is not None else None
        while heap and heap[0][0] <= cutoff:
            _, ticket, chunk = heapq.heappop(heap)
            if not chunk.alive or ticket != chunk.ticket:
                continue
            ages = chunk.cols[a]
            if ties:
                mask = []
                for t in ages:
                    if t == cutoff and ties:
                        ties -= 1
                        mask.append(False)
                    else:
                        mask.append(t >= cutoff)
            else:
                mask = [t >= cutoff for t in ages]
            d = chunk.directory
            if gone is not None:
                gone.extend(map(d.child, compress(chunk.names, map(not_, mask))))
            removed += d.keep(layout, bisect_right(d.firsts, chunk.names[0]) - 1, mask)
            if chunk.alive:
                touched.append(chunk)
            else:
                self._forget_if_empty(d)
        self._size -= removed
        for chunk in touched:
            self._schedule(chunk, min(chunk.cols[a]))
        if gone and self._watcher is not None:
            self._watcher(gone)
        return removed

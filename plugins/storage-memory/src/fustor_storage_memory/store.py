"""``MemoryTreeStore``: the default :class:`~fustor_core.storage.TreeStore` behind a Fusion view.

The per-row loop of :meth:`MemoryTreeStore.upsert` is the hottest code in Fusion. It leans on
how batches arrive — grouped by directory — so consecutive rows usually share a parent: the
parent directory is resolved once per run of siblings, the run is written in bulk
(:mod:`fustor_storage_memory.runs`), and its count changes are carried up the ancestor chain
once. Lookups group paths into sibling runs the same way.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator, Sequence
from itertools import groupby, repeat
from operator import add, itemgetter
from typing import Any, cast

from fustor_core.arbitration import NodeInfo
from fustor_core.errors import InvalidInput
from fustor_core.event_model import Row
from fustor_core.storage import Aggregate, FlagPredicates
from fustor_storage_memory import query, snapshot
from fustor_storage_memory.runs import write_run
from fustor_storage_memory.tree import (
    Dir,
    ensure_dir,
    file_info,
    find_dir,
    make_dir,
    remove_dir,
    remove_file,
    unpack_file,
)

_HEAD = itemgetter(0)
_NAME = itemgetter(2)
_tuple_new = tuple.__new__
_FILE_FLAG = (False,)


def _selects_all(rows: Sequence[Row], indices: Iterable[int]) -> bool:
    """True when ``indices`` is ``range(len(rows))``: the rows can be iterated directly."""
    return type(indices) is range and indices.step == 1 and indices.start == 0 and indices.stop == len(rows)


def _runs(split: list[tuple[str, str, str]]) -> list[tuple[str, int]]:
    """Runs of consecutive ``rpartition`` results with the same head: ``[(head, length)]``."""
    return [(head, len(list(group))) for head, group in groupby(map(_HEAD, split))]


class MemoryTreeStore:
    """One datastore's tree held in memory (about 92 bytes per file, see the package README).

    Not thread-safe: like the view that owns it, it is used from one thread (Fusion's event
    loop); a query running while another thread writes could see a directory change size.
    """

    __slots__ = ("_cache", "root")

    def __init__(self) -> None:
        self.root = Dir("", None)
        # The last parent directory resolved (by lookup or upsert) as (its path, it): the next
        # batch usually continues in the same directory. Reset whenever a directory is removed.
        # One tuple, so a reader never pairs one path with another directory.
        self._cache: tuple[str | None, Dir] = (None, self.root)

    # ---------------------------------------------------------------------------------- reads

    def _dir(self, path: str) -> Dir | None:
        """The directory at ``path``, or None when there is none."""
        if path == "/":
            return self.root
        head, d = self._cache
        if path == head:
            return d
        return find_dir(self.root, path)

    def _parent(self, head: str) -> Dir | None:
        """The directory at ``head`` (a path's rpartition head: ``""`` is the root), remembered
        for the next call since consecutive batches usually stay in one directory."""
        cached_head, cached = self._cache
        if head == cached_head:
            return cached
        d = find_dir(self.root, head)
        if d is not None:
            self._cache = (head, d)
        return d

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        """The node at each path, or None.

        Paths are split and grouped into runs of siblings in C-level passes; each run resolves
        its parent once and, when every name is a file (the common case), is answered without a
        per-path Python step; a name repeated in a row (parent lookups) is looked up once.
        """
        split = list(map(str.rpartition, paths, repeat("/")))
        out: list[NodeInfo | None] = []
        pos = 0
        for head, n in _runs(split):
            end = pos + n
            d = self._parent(head)
            if d is None:
                out.extend(repeat(None, n))
                pos = end
                continue
            names = list(map(_NAME, split[pos:end]))
            pos = end
            records = list(map(d.files.get, names))
            if None not in records:
                fields = map(add, repeat(_FILE_FLAG), map(unpack_file, cast(list[bytes], records)))
                out.extend(map(_tuple_new, repeat(NodeInfo), fields))
            else:  # directories or absent names, often one repeated (a batch's parent lookups)
                files = d.files
                for name, same in groupby(names):
                    out.extend(repeat(self._info(d, head, name, files.get(name)), len(list(same))))
        return out

    def _info(self, d: Dir, head: str, name: str, record: bytes | None) -> NodeInfo | None:
        """What ``lookup`` reports for child ``name`` of ``d`` (``record``: its file record)."""
        if record is not None:
            return file_info(record)
        dirs = d.dirs
        child = dirs.get(name) if dirs is not None else None
        if child is not None:
            return child.info()
        if not name and not head:  # "/" itself
            return self.root.info()
        return None

    def listing(self, path: str) -> dict[str, NodeInfo] | None:
        """The direct children of directory ``path`` by name, or None if it is not a directory."""
        d = self._dir(path)
        if d is None:
            return None
        out = {name: file_info(record) for name, record in d.files.items()}
        if d.dirs is not None:
            for name, child in d.dirs.items():
                out[name] = child.info()
        return out

    def aggregate(self, path: str) -> Aggregate | None:
        """Recursive counts below directory ``path``, read in O(1); None if not a directory."""
        d = self.root if path == "/" else self._dir(path)
        if d is None:
            return None
        return Aggregate(d.n_files, d.n_dirs, d.n_bytes)

    def totals(self) -> Aggregate:
        """Counts of the whole tree."""
        root = self.root
        return Aggregate(root.n_files, root.n_dirs, root.n_bytes)

    def node(
        self,
        path: str,
        *,
        depth: int,
        flags: FlagPredicates,
        limit: int,
        after: str | None = None,
        max_nodes: int = 10_000,
    ) -> dict[str, Any] | None:
        """The query answer for ``path`` (None if absent); see :func:`query.render_node`."""
        if path == "/":
            return query.render_dir(self.root, "/", depth, flags, limit, after, max_nodes)
        parent_path, _, name = path.rpartition("/")
        parent = self._dir(parent_path or "/")
        if parent is None or not name:
            return None
        dirs = parent.dirs
        child = dirs.get(name) if dirs is not None else None
        if child is not None:
            return query.render_dir(child, path, depth, flags, limit, after, max_nodes)
        record = parent.files.get(name)
        if record is None:
            return None
        return query.render_file(path, name, record, flags)

    def search(
        self,
        pattern: str,
        under: str,
        *,
        flags: FlagPredicates,
        limit: int,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Nodes below ``under`` matching the glob, in path order; see :func:`query.search`."""
        start = self._dir(under)
        if start is None:
            return []
        return query.search(start, under, pattern, flags, limit, after)

    # --------------------------------------------------------------------------------- writes

    def upsert(self, rows: Sequence[Row], indices: Iterable[int], confirmed_at: float | None) -> None:
        """Write ``rows[i]`` for each ``i``, creating missing parents (implicit dirs: mtime 0.0).

        ``confirmed_at`` None keeps each existing node's stamp (0.0 for new nodes); a float
        stamps every written node. A row whose kind differs from the node in the tree replaces
        it, subtree included. A row for ``/`` updates the root's attributes.

        The loop only splits each path and collects runs of sibling files; each run is written
        in bulk by :func:`write_run`. Directory rows end the current run and are applied in
        place, so rows take effect in order.
        """
        root = self.root
        stamp = 0.0 if confirmed_at is None else confirmed_at
        keep_stamp = confirmed_at is None
        cur_head, cur = self._cache
        names: list[str] = []
        sizes: list[int] = []
        mtimes: list[float] = []
        selected: Iterable[Row] = rows if _selects_all(rows, indices) else map(rows.__getitem__, indices)
        try:
            for row in selected:
                # pydantic's BaseModel defines __getattr__, which keeps CPython from specialising
                # attribute reads; reading the field dict is about twice as fast per row.
                fields = row.__dict__
                head, _, name = fields["path"].rpartition("/")
                if fields["is_dir"] or not name:  # a directory row, or "/" itself
                    if names:
                        self._write_run(cur, names, sizes, mtimes, stamp, keep_stamp)
                    self._upsert_dir(fields["path"], fields["size"], fields["mtime"], stamp, keep_stamp)
                    continue
                if head != cur_head:
                    if names:
                        self._write_run(cur, names, sizes, mtimes, stamp, keep_stamp)
                    cur = ensure_dir(root, head)
                    cur_head = head
                names.append(name)  # (CPython 3.11 specialises list.append, not a bound alias)
                sizes.append(fields["size"])
                mtimes.append(fields["mtime"])
            if names:
                self._write_run(cur, names, sizes, mtimes, stamp, keep_stamp)
        except struct.error as exc:
            raise InvalidInput(f"a file row cannot be stored (size must be below 2**63): {exc}") from exc
        if cur_head is not None:
            self._cache = (cur_head, cur)

    def _write_run(
        self,
        d: Dir,
        names: list[str],
        sizes: list[int],
        mtimes: list[float],
        stamp: float,
        keep_stamp: bool,
    ) -> None:
        """Write one run of sibling files, then empty the run's lists for the next one."""
        if write_run(d, names, sizes, mtimes, stamp, keep_stamp):
            self._cache = (None, self.root)  # a directory below ``d`` is gone
        names.clear()
        sizes.clear()
        mtimes.clear()

    def _upsert_dir(self, path: str, size: int, mtime: float, stamp: float, keep_stamp: bool) -> None:
        """Create or update a directory (a file in its place is replaced; its size is kept as
        the directory's own attribute, not counted in the byte totals)."""
        if path == "/":
            d = self.root
        else:
            head, _, name = path.rpartition("/")
            parent = ensure_dir(self.root, head)
            dirs = parent.dirs
            existing = dirs.get(name) if dirs is not None else None
            if existing is None:
                d = make_dir(parent, name)
                keep_stamp = False
            else:
                d = existing
        d.mtime = mtime
        d.size = size
        if not keep_stamp:
            d.confirmed_at = stamp

    def delete(self, path: str) -> bool:
        """Remove the node at ``path`` and its subtree in O(depth); False when there was none.

        Deleting ``/`` empties the tree but keeps the root directory itself.
        """
        if path == "/":
            root = self.root
            had_children = bool(root.files or root.dirs)
            root.files = {}
            root.dirs = None
            root.n_files = root.n_dirs = root.n_bytes = 0
            self._cache = (None, self.root)
            return had_children
        head, _, name = path.rpartition("/")
        parent = self._dir(head or "/")
        if parent is None or not name:
            return False
        if remove_file(parent, name):
            return True
        if remove_dir(parent, name):
            self._cache = (None, self.root)
            return True
        return False

    # ------------------------------------------------------------------------------ snapshots

    def export_snapshot(self) -> Iterator[bytes]:
        """The whole tree as compressed chunks (see :mod:`fustor_storage_memory.snapshot`)."""
        return snapshot.export_tree(self.root)

    def import_snapshot(self, chunks: Iterable[bytes]) -> None:
        """Replace the tree with the one exported in ``chunks``."""
        root = snapshot.import_tree(chunks)
        self.root = root
        self._cache = (None, root)

"""The tree-store contract: what a storage plugin provides behind a Fusion view.

The store owns the per-row hot loop (:meth:`TreeStore.upsert`) and the directory aggregates;
the engine owns arbitration. A store keeps nodes by path components (no absolute path per node,
no global path index) and maintains recursive file/dir/byte counts incrementally so that
:meth:`TreeStore.aggregate` is O(1) for any directory.

Every promise below is a test of :class:`fustor_core.testing.storage_contract.TreeStoreContract`,
the suite a storage plugin's tests subclass; :class:`fustor_core.testing.DictStore` is the same
contract implemented the slow, obvious way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from fustor_core.arbitration import NodeInfo
from fustor_core.event_model import Row

FlagPredicates = Mapping[str, Callable[[str], bool]]
"""Flag name -> predicate on a path, e.g. ``{"integrity_suspect": suspects.__contains__}``."""


class Aggregate(NamedTuple):
    """Recursive counts of a directory's subtree (the directory itself not counted)."""

    files: int
    dirs: int
    bytes: int


class TreeStore(Protocol):
    """One datastore's tree of files and directories.

    The root ``/`` always exists and is always a directory: a row for it updates its attributes
    only, and deleting it empties the tree but keeps the root.
    """

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        """The node at each path, or None; optimised for runs of siblings."""
        ...

    def upsert(self, rows: Sequence[Row], indices: Iterable[int], confirmed_at: float | None) -> None:
        """Write ``rows[i]`` for each ``i``: create or update the node, creating missing parents.

        ``confirmed_at`` stamps the nodes as confirmed by realtime at that Fusion time; None keeps
        each node's existing stamp (0.0 for new nodes). A row whose kind (file/dir) differs from
        the existing node replaces it, subtree included.
        """
        ...

    def delete(self, path: str) -> bool:
        """Remove the node at ``path`` and its subtree; False when there was none."""
        ...

    def listing(self, path: str) -> dict[str, NodeInfo] | None:
        """The direct children of directory ``path`` by name, or None if it is not a directory."""
        ...

    def aggregate(self, path: str) -> Aggregate | None:
        """Recursive counts below directory ``path`` in O(1); None if it is not a directory."""
        ...

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
        """The query answer for ``path`` (None if absent).

        A node is ``{path, name, is_dir, size, mtime, <flag>: bool...}``; a directory adds
        ``files, dirs, bytes`` (recursive counts) and, while ``depth`` > 0, ``children`` sorted by
        name. The requested directory lists at most ``limit`` children with names > ``after`` and
        sets ``next_cursor`` (the last name returned) when more remain; nested directories stop
        listing once ``max_nodes`` nodes are in the answer and say so with ``truncated: true``.
        """
        ...

    def search(
        self,
        pattern: str,
        under: str,
        *,
        flags: FlagPredicates,
        limit: int,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Nodes below ``under`` whose name (or, if ``pattern`` has a '/', path) matches the glob,
        in path order, starting after path ``after``, at most ``limit`` (children not listed)."""
        ...

    def totals(self) -> Aggregate:
        """Counts of the whole tree (same as ``aggregate('/')``)."""
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    """Optional methods of a :class:`TreeStore` that lets Fusion snapshot its view.

    Fusion keeps a view across restarts with a journal of its inputs plus periodic snapshots of
    the whole view (:mod:`fustor_core.journal`). A store without these methods still works, but
    its view can only be rebuilt by replaying the journal from the beginning (which is then never
    trimmed).
    """

    def export_snapshot(self) -> Iterator[bytes]:
        """The whole tree as opaque chunks (compact: this is what sits on disk), every node with
        its size, mtime and confirmed_at. Fusion holds its write lock meanwhile (the tree does not
        change) and runs it in a worker thread while queries keep reading the store."""
        ...

    def import_snapshot(self, chunks: Iterable[bytes]) -> None:
        """Replace the tree with the one ``chunks`` (from :meth:`export_snapshot`) describe;
        raise :class:`~fustor_core.journal.JournalCorrupt` if they cannot be decoded."""
        ...

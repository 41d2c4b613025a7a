"""The whole :class:`~fustor_core.storage.TreeStore` contract the slow, obvious way.

:class:`DictStore` keeps ``path -> NodeInfo`` in one dict and answers every call by walking it:
no aggregates kept, no index, nothing clever. It is the store behind the rule authors' fake view
(:class:`fustor_core.testing.RuleHarness`), so a rule meets the same tree semantics there as in
Fusion — parents created, a kind change replacing a subtree, listings, the root always present —
and it passes :class:`fustor_core.testing.storage_contract.TreeStoreContract`, which shows the
contract asks for nothing but behaviour. A storage author can read it as the executable
specification of each method. It is for tests: every call is O(size of the tree).
"""

from __future__ import annotations

import fnmatch
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Any

from fustor_core.arbitration import NodeInfo, is_under
from fustor_core.event_model import Row
from fustor_core.storage import Aggregate, FlagPredicates

ROOT = NodeInfo(True, 0, 0.0, 0.0)


def _parent(path: str) -> str:
    return path.rpartition("/")[0] or "/"


def _name(path: str) -> str:
    return path.rpartition("/")[2]


def _components(path: str) -> tuple[str, ...]:
    return () if path == "/" else tuple(path[1:].split("/"))


class DictStore:
    """A :class:`~fustor_core.storage.TreeStore` in one ``path -> NodeInfo`` dict (``nodes``)."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {"/": ROOT}

    # -- writes -----------------------------------------------------------------------------

    def upsert(self, rows: Sequence[Row], indices: Iterable[int], confirmed_at: float | None) -> None:
        for i in indices:
            self._write(rows[i], confirmed_at)

    def _write(self, row: Row, stamp: float | None) -> None:
        path = row.path
        is_dir = row.is_dir or path == "/"  # the root stays a directory whatever a row says
        if path != "/":
            self._make_parents(path)
        existing = self.nodes.get(path)
        if existing is not None and existing.is_dir != is_dir:
            self._remove(path)  # a kind change replaces the node, subtree included
            existing = None
        kept = existing.confirmed_at if existing is not None else 0.0
        self.nodes[path] = NodeInfo(is_dir, row.size, row.mtime, kept if stamp is None else stamp)

    def _make_parents(self, path: str) -> None:
        parts = _components(path)[:-1]
        for depth in range(1, len(parts) + 1):
            ancestor = "/" + "/".join(parts[:depth])
            existing = self.nodes.get(ancestor)
            if existing is not None and not existing.is_dir:
                self._remove(ancestor)  # a file in the way becomes the directory the row needs
                existing = None
            if existing is None:
                self.nodes[ancestor] = NodeInfo(True, 0, 0.0, 0.0)

    def delete(self, path: str) -> bool:
        return self._remove(path)

    def _remove(self, path: str) -> bool:
        doomed = [p for p in self.nodes if p != "/" and is_under(p, path)]
        for p in doomed:
            del self.nodes[p]
        return bool(doomed)

    # -- reads ------------------------------------------------------------------------------

    def lookup(self, paths: Sequence[str]) -> list[NodeInfo | None]:
        return [self.nodes.get(path) for path in paths]

    def _is_dir(self, path: str) -> bool:
        info = self.nodes.get(path)
        return info is not None and info.is_dir

    def _children(self, path: str) -> list[str]:
        """The child paths of directory ``path``, sorted by name."""
        return sorted((p for p in self.nodes if p != "/" and _parent(p) == path), key=_name)

    def listing(self, path: str) -> dict[str, NodeInfo] | None:
        if not self._is_dir(path):
            return None
        return {_name(child): self.nodes[child] for child in self._children(path)}

    def aggregate(self, path: str) -> Aggregate | None:
        if not self._is_dir(path):
            return None
        below = [info for p, info in self.nodes.items() if p != path and p != "/" and is_under(p, path)]
        files = [info for info in below if not info.is_dir]
        return Aggregate(len(files), len(below) - len(files), sum(info.size for info in files))

    def totals(self) -> Aggregate:
        totals = self.aggregate("/")
        assert totals is not None
        return totals

    # -- query answers ----------------------------------------------------------------------

    def _render(self, path: str, flags: FlagPredicates) -> dict[str, Any]:
        info = self.nodes[path]
        node: dict[str, Any] = {
            "path": path,
            "name": _name(path),
            "is_dir": info.is_dir,
            "size": info.size,
            "mtime": info.mtime,
        }
        for flag, predicate in flags.items():
            node[flag] = predicate(path)
        if info.is_dir:
            counts = self.aggregate(path)
            assert counts is not None
            node.update(files=counts.files, dirs=counts.dirs, bytes=counts.bytes)
        return node

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
        if path not in self.nodes:
            return None
        top = self._render(path, flags)
        if not top["is_dir"] or depth <= 0:
            return top
        count = 1
        children = [c for c in self._children(path) if after is None or _name(c) > after]
        page = max(0, min(limit, max_nodes - count))
        shown = children[:page]
        pending: deque[tuple[dict[str, Any], int]] = deque()
        top["children"] = self._list(shown, flags, depth - 1, pending)
        count += len(shown)
        if len(children) > page:
            if shown:
                top["next_cursor"] = _name(shown[-1])
            else:
                top["truncated"] = True  # a zero-sized page: nothing to resume from
        while pending:  # deeper levels breadth-first, within the max_nodes budget
            node, level = pending.popleft()
            budget = max_nodes - count
            children = self._children(node["path"])
            shown = children[: max(0, budget)]
            node["children"] = self._list(shown, flags, level - 1, pending)
            count += len(shown)
            if len(children) > len(shown) or budget <= 0:
                node["truncated"] = True
        return top

    def _list(
        self,
        paths: list[str],
        flags: FlagPredicates,
        level: int,
        pending: deque[tuple[dict[str, Any], int]],
    ) -> list[dict[str, Any]]:
        out = []
        for child in paths:
            node = self._render(child, flags)
            if node["is_dir"] and level > 0:
                pending.append((node, level))
            out.append(node)
        return out

    def search(
        self,
        pattern: str,
        under: str,
        *,
        flags: FlagPredicates,
        limit: int,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        if limit <= 0 or not self._is_dir(under):
            return []
        on_path = "/" in pattern
        start = _components(after) if after is not None else None
        hits = sorted(
            (
                p
                for p in self.nodes
                if p != under
                and p != "/"
                and is_under(p, under)
                and fnmatch.fnmatchcase(p if on_path else _name(p), pattern)
                and (start is None or _components(p) > start)
            ),
            key=_components,
        )
        return [self._render(p, flags) for p in hits[:limit]]


__all__ = ["DictStore"]

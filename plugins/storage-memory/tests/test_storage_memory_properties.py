"""Property test: after any sequence of upserts and deletes the store agrees with a naive model.

The model is a plain ``path -> NodeInfo`` dict implementing the documented semantics the slow,
obvious way; aggregates are recomputed by walking the store's own listings.
"""

from __future__ import annotations

from itertools import product
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from fustor_core.arbitration import NodeInfo
from fustor_core.event_model import Row
from fustor_core.storage import Aggregate
from fustor_storage_memory import MemoryTreeStore

NAMES = ("a", "b", "c")
UNIVERSE = ["/" + "/".join(parts) for depth in (1, 2, 3) for parts in product(NAMES, repeat=depth)]
"""Every path the test can produce: few names, so kinds collide and subtrees get replaced."""

ROOT_INFO = NodeInfo(True, 0, 0.0, 0.0)


class Model:
    """The tree as a flat dict, updated by brute force."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {"/": ROOT_INFO}

    def _remove(self, path: str) -> bool:
        doomed = [
            p for p in self.nodes if p != "/" and (path == "/" or p == path or p.startswith(path + "/"))
        ]
        for p in doomed:
            del self.nodes[p]
        return bool(doomed)

    def _ensure_parents(self, path: str) -> None:
        parts = path[1:].split("/")[:-1]
        for k in range(1, len(parts) + 1):
            ancestor = "/" + "/".join(parts[:k])
            existing = self.nodes.get(ancestor)
            if existing is not None and not existing.is_dir:
                self._remove(ancestor)
                existing = None
            if existing is None:
                self.nodes[ancestor] = NodeInfo(True, 0, 0.0, 0.0)

    def write(self, row: Row, stamp: float | None) -> None:
        is_dir = row.is_dir or row.path == "/"
        if row.path != "/":
            self._ensure_parents(row.path)
        existing = self.nodes.get(row.path)
        if existing is not None and existing.is_dir != is_dir:
            self._remove(row.path)
            existing = None
        kept = existing.confirmed_at if existing is not None else 0.0
        self.nodes[row.path] = NodeInfo(is_dir, row.size, row.mtime, kept if stamp is None else stamp)

    def delete(self, path: str) -> bool:
        return self._remove(path)

    def aggregate(self, path: str) -> Aggregate:
        below = [
            info for p, info in self.nodes.items() if p != path and (path == "/" or p.startswith(path + "/"))
        ]
        files = [info for info in below if not info.is_dir]
        return Aggregate(len(files), len(below) - len(files), sum(info.size for info in files))


def naive_walk(store: MemoryTreeStore, path: str) -> Aggregate:
    """Counts below ``path`` summed over the store's own listings, ignoring its aggregates."""
    files = dirs = nbytes = 0
    listing = store.listing(path)
    assert listing is not None
    for name, info in listing.items():
        child = ("" if path == "/" else path) + "/" + name
        if info.is_dir:
            sub = naive_walk(store, child)
            files, dirs, nbytes = files + sub.files, dirs + 1 + sub.dirs, nbytes + sub.bytes
        else:
            files, nbytes = files + 1, nbytes + info.size
    return Aggregate(files, dirs, nbytes)


def component_key(path: str) -> tuple[str, ...]:
    return tuple(path[1:].split("/"))


rows = st.builds(
    lambda path, is_dir, size, mtime: Row(path=path, is_dir=is_dir, size=size, mtime=mtime),
    path=st.sampled_from([*UNIVERSE, "/"]),
    is_dir=st.booleans(),
    size=st.integers(0, 1000),
    mtime=st.sampled_from([0.0, 1.0, 2.5]),
)
sibling_run = st.builds(
    lambda parent, names, size: [Row(path=f"{parent}/{name}", size=size) for name in names],
    parent=st.sampled_from(["", "/a", "/a/b", "/c/c"]),
    names=st.lists(st.sampled_from(NAMES), min_size=1, max_size=5),
    size=st.integers(0, 50),
)
batch = st.one_of(st.lists(rows, max_size=8), sibling_run)
upsert_op = st.tuples(
    st.just("upsert"),
    batch,
    st.one_of(st.none(), st.sampled_from([5.0, 9.0])),
    st.one_of(st.none(), st.lists(st.booleans(), min_size=8, max_size=8)),
)
delete_op = st.tuples(st.just("delete"), st.sampled_from([*UNIVERSE, "/"]))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(upsert_op, upsert_op, delete_op), max_size=25), st.permutations(UNIVERSE))
def test_store_agrees_with_naive_model(ops: list[tuple[Any, ...]], probes: list[str]) -> None:
    probes = probes[:12]
    store = MemoryTreeStore()
    model = Model()
    for op in ops:
        if op[0] == "upsert":
            _, batch_rows, stamp, mask = op
            indices = (
                range(len(batch_rows))
                if mask is None
                else [i for i, keep in enumerate(mask[: len(batch_rows)]) if keep]
            )
            store.upsert(batch_rows, indices, stamp)
            for i in indices:
                model.write(batch_rows[i], stamp)
        else:
            assert store.delete(op[1]) == model.delete(op[1])
        # lookups agree everywhere, absent paths included: path by path (the first one meets the
        # last-parent cache the operation left behind), all in one call, then path by path again
        # so the next operation starts with the cache in some directory it may remove
        for p in probes:
            assert store.lookup([p]) == [model.nodes.get(p)], p
        assert store.lookup(["/"]) == [model.nodes["/"]]
        assert store.lookup(UNIVERSE) == [model.nodes.get(p) for p in UNIVERSE]
        for p in reversed(probes):
            assert store.lookup([p]) == [model.nodes.get(p)], p
    # every directory's aggregates equal the sum over its subtree
    for path, info in model.nodes.items():
        if info.is_dir:
            assert store.aggregate(path) == model.aggregate(path) == naive_walk(store, path), path
        else:
            assert store.aggregate(path) is None
    assert store.totals() == store.aggregate("/")
    # search lists the whole tree in component order
    everything = [p["path"] for p in store.search("*", "/", flags={}, limit=10_000)]
    assert everything == sorted((p for p in model.nodes if p != "/"), key=component_key)

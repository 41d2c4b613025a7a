"""What MemoryTreeStore adds to the tree-store contract (test_storage_memory_contract.py runs core's
shared suite): its protocol typing and what it does with a row it cannot store."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from fustor_core.arbitration import NodeInfo
from fustor_core.errors import InvalidInput
from fustor_core.event_model import Row
from fustor_core.storage import Aggregate, TreeStore
from fustor_storage_memory import MemoryTreeStore


def f(path: str, size: int = 0, mtime: float = 0.0) -> Row:
    return Row(path=path, is_dir=False, size=size, mtime=mtime)


def d(path: str, mtime: float = 0.0, size: int = 0) -> Row:
    return Row(path=path, is_dir=True, size=size, mtime=mtime)


def up(store: MemoryTreeStore, rows: Sequence[Row], confirmed_at: float | None = None) -> None:
    store.upsert(rows, range(len(rows)), confirmed_at)


def one(store: MemoryTreeStore, path: str) -> NodeInfo | None:
    return store.lookup([path])[0]


@pytest.fixture
def store() -> MemoryTreeStore:
    return MemoryTreeStore()


def test_satisfies_the_tree_store_protocol(store: MemoryTreeStore) -> None:
    typed: TreeStore = store
    assert typed.totals() == Aggregate(0, 0, 0)


def test_a_size_that_cannot_be_stored_is_refused_and_counts_stay_true(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x/inside", 1), f("/keep", 2)])
    assert one(store, "/a/x/inside") is not None  # /a/x is now the cached parent
    # the event model refuses such a size at ingest; a row built without validation still
    # must not corrupt the store
    huge = Row.model_construct(
        path="/b/huge",
        is_dir=False,
        size=2**63,
        mtime=0.0,
        parent_path=None,
        parent_mtime=None,
        audit_skipped=False,
    )
    with pytest.raises(InvalidInput):
        up(store, [f("/a/x", 3), f("/b/ok", 4), huge, f("/b/after", 5)])
    assert one(store, "/a/x/inside") is None  # the cached /a/x was replaced before the failure
    # what came before the bad row is written and counted; the bad row's run changed nothing
    assert store.lookup(["/a/x", "/a/x/inside", "/b/ok", "/b/huge"]) == [
        NodeInfo(False, 3, 0.0, 0.0),
        None,
        None,
        None,
    ]
    assert store.totals() == Aggregate(files=2, dirs=2, bytes=5)
    up(store, [f("/b/ok", 4)])
    with pytest.raises(InvalidInput):
        up(store, [f("/b/x", 1), d("/b/x"), f("/b/ok", 6), huge])
    # the last run mixes an existing name with new ones, so it is written row by row up to the bad row
    assert store.lookup(["/b/ok", "/b/x"]) == [NodeInfo(False, 6, 0.0, 0.0), NodeInfo(True, 0, 0.0, 0.0)]
    assert store.aggregate("/") == Aggregate(files=3, dirs=3, bytes=11)

"""Behaviour of MemoryTreeStore method by method, edge cases included."""

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


# ----------------------------------------------------------------------------------- upsert


def test_file_rows_create_implicit_parents(store: MemoryTreeStore) -> None:
    up(store, [f("/a/b/c.txt", 10, 5.0)])
    assert one(store, "/a/b/c.txt") == NodeInfo(False, 10, 5.0, 0.0)
    assert one(store, "/a/b") == NodeInfo(True, 0, 0.0, 0.0)
    assert one(store, "/a") == NodeInfo(True, 0, 0.0, 0.0)
    assert store.totals() == Aggregate(files=1, dirs=2, bytes=10)
    assert store.aggregate("/a") == Aggregate(1, 1, 10)
    assert store.aggregate("/a/b") == Aggregate(1, 0, 10)


def test_only_selected_indices_are_written(store: MemoryTreeStore) -> None:
    rows = [f("/x/0", 1), f("/x/1", 2), f("/x/2", 4), f("/y", 8)]
    store.upsert(rows, [0, 2], None)
    assert [info is not None for info in store.lookup([r.path for r in rows])] == [True, False, True, False]
    assert store.totals() == Aggregate(2, 1, 5)


def test_confirmed_at_stamps_or_keeps(store: MemoryTreeStore) -> None:
    up(store, [f("/a/f", 1, 1.0), d("/a/sub", 2.0)], confirmed_at=100.0)
    assert one(store, "/a/f") == NodeInfo(False, 1, 1.0, 100.0)
    assert one(store, "/a/sub") == NodeInfo(True, 0, 2.0, 100.0)
    # None keeps the stamp of existing nodes, files and dirs alike
    up(store, [f("/a/f", 3, 4.0), d("/a/sub", 5.0)], confirmed_at=None)
    assert one(store, "/a/f") == NodeInfo(False, 3, 4.0, 100.0)
    assert one(store, "/a/sub") == NodeInfo(True, 0, 5.0, 100.0)
    # ...new nodes start at 0.0
    up(store, [f("/a/g", 1), d("/a/h")], confirmed_at=None)
    assert one(store, "/a/g") == NodeInfo(False, 1, 0.0, 0.0)
    assert one(store, "/a/h") == NodeInfo(True, 0, 0.0, 0.0)
    # a float restamps
    up(store, [f("/a/f", 3, 4.0)], confirmed_at=200.0)
    assert one(store, "/a/f") == NodeInfo(False, 3, 4.0, 200.0)


def test_bulk_update_keeps_each_files_own_stamp(store: MemoryTreeStore) -> None:
    up(store, [f("/a/one", 1)], confirmed_at=10.0)
    up(store, [f("/a/two", 2)], confirmed_at=20.0)
    up(store, [f("/a/one", 5), f("/a/two", 6)])  # a run of existing files: the bulk path
    assert store.lookup(["/a/one", "/a/two"]) == [
        NodeInfo(False, 5, 0.0, 10.0),
        NodeInfo(False, 6, 0.0, 20.0),
    ]
    assert store.aggregate("/a") == Aggregate(2, 0, 11)


def test_updates_adjust_bytes_not_counts(store: MemoryTreeStore) -> None:
    up(store, [f("/a/b/x", 10), f("/a/b/y", 20)])
    up(store, [f("/a/b/x", 15), f("/a/b/new", 1), f("/a/b/y", 5)])  # mixed new and existing
    assert store.aggregate("/a") == Aggregate(3, 1, 21)
    assert store.totals() == Aggregate(3, 2, 21)


def test_a_name_twice_in_one_batch_counts_once_with_its_last_row(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 1, 1.0), f("/a/y", 2), f("/a/x", 7, 2.0)])
    assert one(store, "/a/x") == NodeInfo(False, 7, 2.0, 0.0)
    assert store.totals() == Aggregate(2, 1, 9)
    up(store, [f("/a/x", 3), f("/a/x", 4)])  # existing name twice
    assert store.totals() == Aggregate(2, 1, 6)


def test_directory_rows_set_attributes_and_their_size_is_not_counted(store: MemoryTreeStore) -> None:
    up(store, [d("/a", 3.0, size=4096), f("/a/f", 10)])
    assert one(store, "/a") == NodeInfo(True, 4096, 3.0, 0.0)
    assert store.totals() == Aggregate(1, 1, 10)
    up(store, [d("/a", 9.0, size=8192)])  # updating a dir keeps its children
    assert one(store, "/a") == NodeInfo(True, 8192, 9.0, 0.0)
    assert one(store, "/a/f") == NodeInfo(False, 10, 0.0, 0.0)


def test_a_row_for_the_root_updates_it(store: MemoryTreeStore) -> None:
    up(store, [d("/", 42.0)], confirmed_at=7.0)
    assert one(store, "/") == NodeInfo(True, 0, 42.0, 7.0)
    assert store.totals() == Aggregate(0, 0, 0)
    up(store, [f("/top", 1), Row.model_construct(path="/", is_dir=False, size=0, mtime=43.0)])
    assert one(store, "/") == NodeInfo(True, 0, 43.0, 7.0)  # still a directory, stamp kept
    assert store.totals() == Aggregate(1, 0, 1)


def test_file_replaced_by_directory_row(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 100)])
    up(store, [d("/a/x", 5.0)], confirmed_at=3.0)
    assert one(store, "/a/x") == NodeInfo(True, 0, 5.0, 3.0)
    assert store.totals() == Aggregate(0, 2, 0)


def test_file_replaced_by_implicit_parent(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 100), f("/a/y", 1)])
    up(store, [f("/a/x/inner/z", 7)])
    assert one(store, "/a/x") == NodeInfo(True, 0, 0.0, 0.0)
    assert store.aggregate("/a") == Aggregate(files=2, dirs=2, bytes=8)
    assert store.totals() == Aggregate(2, 3, 8)


def test_directory_replaced_by_file_drops_subtree_from_every_ancestor(store: MemoryTreeStore) -> None:
    up(store, [f("/r/a/x/1", 1), f("/r/a/x/deep/2", 2), f("/r/a/keep", 4)])
    assert store.aggregate("/r") == Aggregate(3, 3, 7)
    up(store, [f("/r/a/x", 50)], confirmed_at=1.0)
    assert one(store, "/r/a/x") == NodeInfo(False, 50, 0.0, 1.0)
    assert one(store, "/r/a/x/1") is None
    assert one(store, "/r/a/x/deep/2") is None
    assert store.aggregate("/r/a") == Aggregate(2, 0, 54)
    assert store.aggregate("/r") == Aggregate(2, 1, 54)
    assert store.totals() == Aggregate(2, 2, 54)


def test_rows_of_one_batch_apply_in_order(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 1), d("/a/x", 2.0)])
    assert one(store, "/a/x") == NodeInfo(True, 0, 2.0, 0.0)
    up(store, [f("/b/x/inner", 3), f("/b/x", 4)])
    assert one(store, "/b/x") == NodeInfo(False, 4, 0.0, 0.0)
    assert store.totals() == Aggregate(1, 3, 4)


def test_model_construct_rows_are_accepted(store: MemoryTreeStore) -> None:
    rows = [
        Row.model_construct(path=f"/m/data_{n}.dat", is_dir=False, size=n, mtime=1.5, parent_path=None,
                            parent_mtime=None, audit_skipped=False)
        for n in range(5)
    ]  # fmt: skip
    up(store, rows)
    assert store.totals() == Aggregate(5, 1, 10)


def test_writes_after_a_removed_directory_do_not_land_in_it(store: MemoryTreeStore) -> None:
    """The last-parent cache must not outlive the directory it points to."""
    up(store, [f("/a/b/c", 1)])
    assert one(store, "/a/b/c") is not None  # /a/b is now the cached parent
    assert store.delete("/a")
    up(store, [f("/a/b/d", 2)])
    assert store.lookup(["/a/b/c", "/a/b/d"]) == [None, NodeInfo(False, 2, 0.0, 0.0)]
    assert store.totals() == Aggregate(1, 2, 2)
    up(store, [f("/a/b", 9)])  # the cached /a/b becomes a file
    up(store, [f("/a/b/e", 3)])  # ...and a directory again
    assert store.lookup(["/a/b/d", "/a/b/e"]) == [None, NodeInfo(False, 3, 0.0, 0.0)]
    assert store.totals() == Aggregate(1, 2, 3)


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


# ----------------------------------------------------------------------------------- lookup


def test_lookup_reports_files_dirs_and_absent_paths(store: MemoryTreeStore) -> None:
    up(store, [d("/a", 1.0), f("/a/f", 2, 3.0), f("/b", 4)])
    assert store.lookup(["/a", "/a/f", "/a/missing", "/missing/deeper", "/", "/b", "/b/under-a-file"]) == [
        NodeInfo(True, 0, 1.0, 0.0),
        NodeInfo(False, 2, 3.0, 0.0),
        None,
        None,
        NodeInfo(True, 0, 0.0, 0.0),
        NodeInfo(False, 4, 0.0, 0.0),
        None,
    ]
    assert store.lookup([]) == []


def test_lookup_of_the_same_parent_many_times(store: MemoryTreeStore) -> None:
    up(store, [f("/p/q/x", 1)])
    assert store.lookup(["/p/q"] * 3 + ["/p/q/x"] + ["/p/zz"] * 2) == [NodeInfo(True, 0, 0.0, 0.0)] * 3 + [
        NodeInfo(False, 1, 0.0, 0.0),
        None,
        None,
    ]


def test_lookup_results_are_node_infos(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 1, 2.0)], confirmed_at=3.0)
    info = one(store, "/a/x")
    assert isinstance(info, NodeInfo)
    assert (info.is_dir, info.size, info.mtime, info.confirmed_at) == (False, 1, 2.0, 3.0)


# ----------------------------------------------------------------------------------- delete


def test_delete_file_and_missing(store: MemoryTreeStore) -> None:
    up(store, [f("/a/x", 5), f("/a/y", 6)])
    assert store.delete("/a/x") is True
    assert store.delete("/a/x") is False
    assert store.delete("/nope/deeper") is False
    assert one(store, "/a/x") is None
    assert store.totals() == Aggregate(1, 1, 6)


def test_delete_subtree_updates_every_ancestor(store: MemoryTreeStore) -> None:
    up(store, [f("/r/s/t/u/1", 1), f("/r/s/t/u/v/2", 2), f("/r/s/t/3", 4), f("/r/other", 8)])
    assert store.totals() == Aggregate(4, 5, 15)
    assert store.delete("/r/s/t/u") is True
    assert store.aggregate("/r/s/t") == Aggregate(1, 0, 4)
    assert store.aggregate("/r/s") == Aggregate(1, 1, 4)
    assert store.aggregate("/r") == Aggregate(2, 2, 12)
    assert store.totals() == Aggregate(2, 3, 12)
    assert store.lookup(["/r/s/t/u", "/r/s/t/u/v/2"]) == [None, None]


def test_delete_root_clears_everything_but_keeps_the_root(store: MemoryTreeStore) -> None:
    assert store.delete("/") is False
    up(store, [d("/", 3.0), f("/a/b", 1), f("/c", 2)])
    assert store.delete("/") is True
    assert store.totals() == Aggregate(0, 0, 0)
    assert store.lookup(["/a", "/a/b", "/c"]) == [None, None, None]
    assert one(store, "/") is not None and one(store, "/").is_dir  # type: ignore[union-attr]
    assert store.listing("/") == {}
    up(store, [f("/a/b", 7)])
    assert store.totals() == Aggregate(1, 1, 7)


# --------------------------------------------------------------------- listing / aggregates


def test_listing(store: MemoryTreeStore) -> None:
    up(store, [d("/a/sub", 2.0), f("/a/f", 3, 4.0), f("/a/sub/deeper", 1)])
    assert store.listing("/a") == {"sub": NodeInfo(True, 0, 2.0, 0.0), "f": NodeInfo(False, 3, 4.0, 0.0)}
    assert store.listing("/a/sub/deeper") is None  # a file
    assert store.listing("/zzz") is None
    assert store.listing("/") == {"a": NodeInfo(True, 0, 0.0, 0.0)}


def test_aggregate(store: MemoryTreeStore) -> None:
    up(store, [f("/a/f", 3), f("/a/b/g", 4), d("/a/b/c")])
    assert store.aggregate("/a") == Aggregate(2, 2, 7)
    assert store.aggregate("/a/b/c") == Aggregate(0, 0, 0)
    assert store.aggregate("/a/f") is None
    assert store.aggregate("/zzz") is None
    assert store.aggregate("/") == store.totals() == Aggregate(2, 3, 7)


# ------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    "name",
    ["données été.txt", "日本語", "emoji 🙂", "back\\slash", "star*?[x]", "new\nline", "tab\tname", " lead"],
)
def test_any_name_without_slash_or_nul_round_trips(store: MemoryTreeStore, name: str) -> None:
    path = f"/dir {name}/{name}"
    up(store, [f(path, 3, 1.0)])
    assert one(store, path) == NodeInfo(False, 3, 1.0, 0.0)
    assert set(store.listing(f"/dir {name}") or {}) == {name}
    node = store.node(f"/dir {name}", depth=1, flags={}, limit=10)
    assert node is not None and node["children"][0]["path"] == path
    assert [n["path"] for n in store.search("*", "/", flags={}, limit=10)] == [f"/dir {name}", path]
    assert store.delete(path) and store.totals() == Aggregate(0, 1, 0)

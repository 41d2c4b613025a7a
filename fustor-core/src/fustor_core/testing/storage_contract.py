"""The contract test suite of :class:`fustor_core.storage.TreeStore`: every storage plugin passes it.

Subclass :class:`TreeStoreContract` in the plugin's tests and provide the ``make_store``
fixture, a callable returning a new, empty store each time it is called::

    from fustor_core.testing.storage_contract import TreeStoreContract

    class TestMyStore(TreeStoreContract):
        @pytest.fixture
        def make_store(self):
            return MyStore

Every test of the suite then runs against your store: writes (parents created, kind changes
replacing subtrees, confirmation stamps), lookups, deletes, listings, aggregates that always
equal the sums over their subtrees (also after a long seeded sequence of random operations,
checked against a naive model), and the query answers ``node`` (depth, paging with cursors,
the ``max_nodes`` budget) and ``search`` (glob semantics, path order, paging). Tests about how
*your* store achieves this (caches, memory) stay in your own test modules.

Imported by tests only (it needs pytest); core's pytest plugin registers it for assertion
rewriting, so a failure shows the values compared.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import pytest

from fustor_core.arbitration import NodeInfo
from fustor_core.event_model import Row
from fustor_core.storage import Aggregate, TreeStore

MakeStore = Callable[[], TreeStore]


def file_row(path: str, size: int = 0, mtime: float = 0.0) -> Row:
    return Row(path=path, is_dir=False, size=size, mtime=mtime)


def dir_row(path: str, mtime: float = 0.0, size: int = 0) -> Row:
    return Row(path=path, is_dir=True, size=size, mtime=mtime)


f, d = file_row, dir_row


def up(store: TreeStore, rows: Sequence[Row], confirmed_at: float | None = None) -> None:
    """Upsert every row."""
    store.upsert(rows, range(len(rows)), confirmed_at)


def one(store: TreeStore, path: str) -> NodeInfo | None:
    return store.lookup([path])[0]


def paths(nodes: list[dict[str, Any]]) -> list[str]:
    return [node["path"] for node in nodes]


def count_nodes(node: dict[str, Any]) -> int:
    return 1 + sum(count_nodes(child) for child in node.get("children", []))


def page_through(
    store: TreeStore, path: str, limit: int, between: Callable[[int], None] | None = None
) -> list[str]:
    """Every child name of ``path``, page by page with the cursor; ``between(page)`` may change
    the tree between two pages."""
    names: list[str] = []
    after = None
    for page in range(1000):
        node = store.node(path, depth=1, flags={}, limit=limit, after=after)
        assert node is not None
        chunk = [c["name"] for c in node["children"]]
        assert len(chunk) <= limit
        assert chunk == sorted(chunk)
        names.extend(chunk)
        if "next_cursor" not in node:
            return names
        assert node["next_cursor"] == chunk[-1]
        after = node["next_cursor"]
        if between is not None:
            between(page)
    raise AssertionError("paging did not end")


def component_key(path: str) -> tuple[str, ...]:
    return tuple(path[1:].split("/"))


class NaiveTree:
    """The documented write semantics as a flat ``path -> NodeInfo`` dict, updated by brute force:
    the oracle of :meth:`TreeStoreContract.test_random_operations_agree_with_a_naive_model`."""

    ROOT = NodeInfo(True, 0, 0.0, 0.0)

    def __init__(self) -> None:
        self.nodes: dict[str, NodeInfo] = {"/": self.ROOT}

    def _remove(self, path: str) -> bool:
        doomed = [
            p for p in self.nodes if p != "/" and (path == "/" or p == path or p.startswith(path + "/"))
        ]
        for p in doomed:
            del self.nodes[p]
        return bool(doomed)

    def write(self, row: Row, stamp: float | None) -> None:
        is_dir = row.is_dir or row.path == "/"
        if row.path != "/":
            parts = row.path[1:].split("/")[:-1]
            for k in range(1, len(parts) + 1):
                ancestor = "/" + "/".join(parts[:k])
                existing = self.nodes.get(ancestor)
                if existing is not None and not existing.is_dir:
                    self._remove(ancestor)
                    existing = None
                if existing is None:
                    self.nodes[ancestor] = NodeInfo(True, 0, 0.0, 0.0)
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


def walk_listings(store: TreeStore, path: str) -> Aggregate:
    """Counts below ``path`` summed over the store's own listings, ignoring its aggregates."""
    files = dirs = nbytes = 0
    listing = store.listing(path)
    assert listing is not None
    for name, info in listing.items():
        child = ("" if path == "/" else path) + "/" + name
        if info.is_dir:
            sub = walk_listings(store, child)
            files, dirs, nbytes = files + sub.files, dirs + 1 + sub.dirs, nbytes + sub.bytes
        else:
            files, nbytes = files + 1, nbytes + info.size
    return Aggregate(files, dirs, nbytes)


NAMES = ("a", "b", "c")
UNIVERSE = ["/" + "/".join(parts) for depth in (1, 2, 3) for parts in product(NAMES, repeat=depth)]
"""Every path the random test produces: few names, so kinds collide and subtrees get replaced."""


def _random_batch(rng: random.Random) -> list[Row]:
    if rng.random() < 0.3:  # a run of siblings, as a scan sends them
        parent = rng.choice(["", "/a", "/a/b", "/c/c"])
        size = rng.randint(0, 50)
        return [Row(path=f"{parent}/{rng.choice(NAMES)}", size=size) for _ in range(rng.randint(1, 5))]
    return [
        Row(
            path=rng.choice([*UNIVERSE, "/"]),
            is_dir=rng.random() < 0.5,
            size=rng.randint(0, 1000),
            mtime=rng.choice([0.0, 1.0, 2.5]),
        )
        for _ in range(rng.randint(0, 8))
    ]


class TreeStoreContract:
    """What Fusion relies on from a tree store, one test per promise."""

    @pytest.fixture
    def make_store(self) -> MakeStore:
        raise NotImplementedError("a storage plugin's tests provide the make_store fixture")

    @pytest.fixture
    def store(self, make_store: MakeStore) -> TreeStore:
        return make_store()

    @pytest.fixture
    def sample(self, make_store: MakeStore) -> TreeStore:
        """A small tree: /a (with files, a subdirectory m, an empty directory) and /b."""
        store = make_store()
        up(
            store,
            [
                d("/a", 1.0, size=4096),
                f("/a/B.txt", 10, 2.0),
                f("/a/z.bin", 20, 3.0),
                f("/a/m/1", 1),
                f("/a/m/2", 2),
                f("/a/m/n/3", 3),
                d("/a/empty", 4.0),
                f("/b", 5),
            ],
        )
        return store

    # -- an empty store -------------------------------------------------------------------------

    def test_an_empty_store_has_only_its_root(self, store: TreeStore) -> None:
        assert store.totals() == Aggregate(0, 0, 0)
        assert store.lookup(["/"]) == [NodeInfo(True, 0, 0.0, 0.0)]
        assert store.listing("/") == {}
        assert store.aggregate("/") == Aggregate(0, 0, 0)
        assert store.lookup([]) == []

    # -- upsert ---------------------------------------------------------------------------------

    def test_file_rows_create_implicit_parents(self, store: TreeStore) -> None:
        up(store, [f("/a/b/c.txt", 10, 5.0)])
        assert one(store, "/a/b/c.txt") == NodeInfo(False, 10, 5.0, 0.0)
        assert one(store, "/a/b") == NodeInfo(True, 0, 0.0, 0.0)
        assert one(store, "/a") == NodeInfo(True, 0, 0.0, 0.0)
        assert store.totals() == Aggregate(files=1, dirs=2, bytes=10)
        assert store.aggregate("/a") == Aggregate(1, 1, 10)
        assert store.aggregate("/a/b") == Aggregate(1, 0, 10)

    def test_only_selected_indices_are_written(self, store: TreeStore) -> None:
        rows = [f("/x/0", 1), f("/x/1", 2), f("/x/2", 4), f("/y", 8)]
        store.upsert(rows, [0, 2], None)
        assert [info is not None for info in store.lookup([r.path for r in rows])] == [
            True,
            False,
            True,
            False,
        ]
        assert store.totals() == Aggregate(2, 1, 5)

    def test_confirmed_at_stamps_or_keeps(self, store: TreeStore) -> None:
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

    def test_an_update_of_many_files_keeps_each_files_own_stamp(self, store: TreeStore) -> None:
        up(store, [f("/a/one", 1)], confirmed_at=10.0)
        up(store, [f("/a/two", 2)], confirmed_at=20.0)
        up(store, [f("/a/one", 5), f("/a/two", 6)])
        assert store.lookup(["/a/one", "/a/two"]) == [
            NodeInfo(False, 5, 0.0, 10.0),
            NodeInfo(False, 6, 0.0, 20.0),
        ]
        assert store.aggregate("/a") == Aggregate(2, 0, 11)

    def test_updates_adjust_bytes_not_counts(self, store: TreeStore) -> None:
        up(store, [f("/a/b/x", 10), f("/a/b/y", 20)])
        up(store, [f("/a/b/x", 15), f("/a/b/new", 1), f("/a/b/y", 5)])  # mixed new and existing
        assert store.aggregate("/a") == Aggregate(3, 1, 21)
        assert store.totals() == Aggregate(3, 2, 21)

    def test_a_name_twice_in_one_batch_counts_once_with_its_last_row(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 1, 1.0), f("/a/y", 2), f("/a/x", 7, 2.0)])
        assert one(store, "/a/x") == NodeInfo(False, 7, 2.0, 0.0)
        assert store.totals() == Aggregate(2, 1, 9)
        up(store, [f("/a/x", 3), f("/a/x", 4)])  # an existing name twice
        assert store.totals() == Aggregate(2, 1, 6)

    def test_directory_rows_set_attributes_and_their_size_is_not_counted(self, store: TreeStore) -> None:
        up(store, [d("/a", 3.0, size=4096), f("/a/f", 10)])
        assert one(store, "/a") == NodeInfo(True, 4096, 3.0, 0.0)
        assert store.totals() == Aggregate(1, 1, 10)
        up(store, [d("/a", 9.0, size=8192)])  # updating a dir keeps its children
        assert one(store, "/a") == NodeInfo(True, 8192, 9.0, 0.0)
        assert one(store, "/a/f") == NodeInfo(False, 10, 0.0, 0.0)

    def test_a_row_for_the_root_updates_it_and_it_stays_a_directory(self, store: TreeStore) -> None:
        up(store, [d("/", 42.0)], confirmed_at=7.0)
        assert one(store, "/") == NodeInfo(True, 0, 42.0, 7.0)
        assert store.totals() == Aggregate(0, 0, 0)
        up(store, [f("/top", 1), Row.model_construct(path="/", is_dir=False, size=0, mtime=43.0)])
        assert one(store, "/") == NodeInfo(True, 0, 43.0, 7.0)  # still a directory, stamp kept
        assert store.totals() == Aggregate(1, 0, 1)

    def test_a_file_replaced_by_a_directory_row(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 100)])
        up(store, [d("/a/x", 5.0)], confirmed_at=3.0)
        assert one(store, "/a/x") == NodeInfo(True, 0, 5.0, 3.0)
        assert store.totals() == Aggregate(0, 2, 0)

    def test_a_file_replaced_by_an_implicit_parent(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 100), f("/a/y", 1)])
        up(store, [f("/a/x/inner/z", 7)])
        assert one(store, "/a/x") == NodeInfo(True, 0, 0.0, 0.0)
        assert store.aggregate("/a") == Aggregate(files=2, dirs=2, bytes=8)
        assert store.totals() == Aggregate(2, 3, 8)

    def test_a_directory_replaced_by_a_file_drops_its_subtree_from_every_ancestor(
        self, store: TreeStore
    ) -> None:
        up(store, [f("/r/a/x/1", 1), f("/r/a/x/deep/2", 2), f("/r/a/keep", 4)])
        assert store.aggregate("/r") == Aggregate(3, 3, 7)
        up(store, [f("/r/a/x", 50)], confirmed_at=1.0)
        assert one(store, "/r/a/x") == NodeInfo(False, 50, 0.0, 1.0)
        assert store.lookup(["/r/a/x/1", "/r/a/x/deep/2"]) == [None, None]
        assert store.aggregate("/r/a") == Aggregate(2, 0, 54)
        assert store.aggregate("/r") == Aggregate(2, 1, 54)
        assert store.totals() == Aggregate(2, 2, 54)

    def test_rows_of_one_batch_apply_in_order(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 1), d("/a/x", 2.0)])
        assert one(store, "/a/x") == NodeInfo(True, 0, 2.0, 0.0)
        up(store, [f("/b/x/inner", 3), f("/b/x", 4)])
        assert one(store, "/b/x") == NodeInfo(False, 4, 0.0, 0.0)
        assert store.totals() == Aggregate(1, 3, 4)

    def test_rows_built_without_validation_are_accepted(self, store: TreeStore) -> None:
        rows = [
            Row.model_construct(
                path=f"/m/data_{n}.dat",
                is_dir=False,
                size=n,
                mtime=1.5,
                parent_path=None,
                parent_mtime=None,
                audit_skipped=False,
            )
            for n in range(5)
        ]
        up(store, rows)
        assert store.totals() == Aggregate(5, 1, 10)

    def test_writes_after_a_removed_directory_do_not_land_in_it(self, store: TreeStore) -> None:
        up(store, [f("/a/b/c", 1)])
        assert one(store, "/a/b/c") is not None
        assert store.delete("/a")
        up(store, [f("/a/b/d", 2)])
        assert store.lookup(["/a/b/c", "/a/b/d"]) == [None, NodeInfo(False, 2, 0.0, 0.0)]
        assert store.totals() == Aggregate(1, 2, 2)
        up(store, [f("/a/b", 9)])  # /a/b becomes a file
        up(store, [f("/a/b/e", 3)])  # ...and a directory again
        assert store.lookup(["/a/b/d", "/a/b/e"]) == [None, NodeInfo(False, 3, 0.0, 0.0)]
        assert store.totals() == Aggregate(1, 2, 3)

    # -- lookup ---------------------------------------------------------------------------------

    def test_lookup_reports_files_dirs_and_absent_paths(self, store: TreeStore) -> None:
        up(store, [d("/a", 1.0), f("/a/f", 2, 3.0), f("/b", 4)])
        assert store.lookup(
            ["/a", "/a/f", "/a/missing", "/missing/deeper", "/", "/b", "/b/under-a-file"]
        ) == [
            NodeInfo(True, 0, 1.0, 0.0),
            NodeInfo(False, 2, 3.0, 0.0),
            None,
            None,
            NodeInfo(True, 0, 0.0, 0.0),
            NodeInfo(False, 4, 0.0, 0.0),
            None,
        ]

    def test_lookup_of_the_same_parent_many_times(self, store: TreeStore) -> None:
        up(store, [f("/p/q/x", 1)])
        assert store.lookup(["/p/q"] * 3 + ["/p/q/x"] + ["/p/zz"] * 2) == [
            NodeInfo(True, 0, 0.0, 0.0)
        ] * 3 + [
            NodeInfo(False, 1, 0.0, 0.0),
            None,
            None,
        ]

    def test_lookup_results_are_node_infos(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 1, 2.0)], confirmed_at=3.0)
        info = one(store, "/a/x")
        assert isinstance(info, NodeInfo)
        assert (info.is_dir, info.size, info.mtime, info.confirmed_at) == (False, 1, 2.0, 3.0)

    # -- delete ---------------------------------------------------------------------------------

    def test_delete_a_file_and_what_is_not_there(self, store: TreeStore) -> None:
        up(store, [f("/a/x", 5), f("/a/y", 6)])
        assert store.delete("/a/x") is True
        assert store.delete("/a/x") is False
        assert store.delete("/nope/deeper") is False
        assert one(store, "/a/x") is None
        assert store.totals() == Aggregate(1, 1, 6)

    def test_delete_a_subtree_updates_every_ancestor(self, store: TreeStore) -> None:
        up(store, [f("/r/s/t/u/1", 1), f("/r/s/t/u/v/2", 2), f("/r/s/t/3", 4), f("/r/other", 8)])
        assert store.totals() == Aggregate(4, 5, 15)
        assert store.delete("/r/s/t/u") is True
        assert store.aggregate("/r/s/t") == Aggregate(1, 0, 4)
        assert store.aggregate("/r/s") == Aggregate(1, 1, 4)
        assert store.aggregate("/r") == Aggregate(2, 2, 12)
        assert store.totals() == Aggregate(2, 3, 12)
        assert store.lookup(["/r/s/t/u", "/r/s/t/u/v/2"]) == [None, None]

    def test_deleting_the_root_empties_the_tree_but_keeps_the_root(self, store: TreeStore) -> None:
        assert store.delete("/") is False
        up(store, [d("/", 3.0), f("/a/b", 1), f("/c", 2)])
        assert store.delete("/") is True
        assert store.totals() == Aggregate(0, 0, 0)
        assert store.lookup(["/a", "/a/b", "/c"]) == [None, None, None]
        root = one(store, "/")
        assert root is not None and root.is_dir
        assert store.listing("/") == {}
        up(store, [f("/a/b", 7)])
        assert store.totals() == Aggregate(1, 1, 7)

    # -- listing and aggregates -----------------------------------------------------------------

    def test_listing(self, store: TreeStore) -> None:
        up(store, [d("/a/sub", 2.0), f("/a/f", 3, 4.0), f("/a/sub/deeper", 1)])
        assert store.listing("/a") == {"sub": NodeInfo(True, 0, 2.0, 0.0), "f": NodeInfo(False, 3, 4.0, 0.0)}
        assert store.listing("/a/sub/deeper") is None  # a file
        assert store.listing("/zzz") is None
        assert store.listing("/") == {"a": NodeInfo(True, 0, 0.0, 0.0)}

    def test_aggregate(self, store: TreeStore) -> None:
        up(store, [f("/a/f", 3), f("/a/b/g", 4), d("/a/b/c")])
        assert store.aggregate("/a") == Aggregate(2, 2, 7)
        assert store.aggregate("/a/b/c") == Aggregate(0, 0, 0)
        assert store.aggregate("/a/f") is None
        assert store.aggregate("/zzz") is None
        assert store.aggregate("/") == store.totals() == Aggregate(2, 3, 7)

    @pytest.mark.parametrize("seed", range(12))
    def test_random_operations_agree_with_a_naive_model(self, make_store: MakeStore, seed: int) -> None:
        """After any sequence of upserts and deletes, lookups agree with :class:`NaiveTree` and
        every directory's aggregate equals the sum over its subtree."""
        rng = random.Random(seed)
        store, model = make_store(), NaiveTree()
        for _ in range(40):
            if rng.random() < 0.25:
                path = rng.choice([*UNIVERSE, "/"])
                assert store.delete(path) == model.delete(path), path
            else:
                rows = _random_batch(rng)
                stamp = rng.choice([None, None, 5.0, 9.0])
                indices = [i for i in range(len(rows)) if rng.random() < 0.8]
                store.upsert(rows, indices, stamp)
                for i in indices:
                    model.write(rows[i], stamp)
            probes = rng.sample(UNIVERSE, 12)
            for p in probes:  # one at a time, then all at once
                assert store.lookup([p]) == [model.nodes.get(p)], p
            assert store.lookup(["/", *UNIVERSE]) == [model.nodes.get(p) for p in ["/", *UNIVERSE]]
        for path, info in model.nodes.items():
            if info.is_dir:
                assert store.aggregate(path) == model.aggregate(path) == walk_listings(store, path), path
            else:
                assert store.aggregate(path) is None
        assert store.totals() == store.aggregate("/")
        everything = paths(store.search("*", "/", flags={}, limit=10_000))
        assert everything == sorted((p for p in model.nodes if p != "/"), key=component_key)

    # -- names ----------------------------------------------------------------------------------

    @pytest.mark.parametrize(
        "name",
        [
            "données été.txt",
            "日本語",
            "emoji 🙂",
            "back\\slash",
            "star*?[x]",
            "new\nline",
            "tab\tname",
            " lead",
        ],
    )
    def test_any_name_without_slash_or_nul_round_trips(self, store: TreeStore, name: str) -> None:
        path = f"/dir {name}/{name}"
        up(store, [f(path, 3, 1.0)])
        assert one(store, path) == NodeInfo(False, 3, 1.0, 0.0)
        assert set(store.listing(f"/dir {name}") or {}) == {name}
        node = store.node(f"/dir {name}", depth=1, flags={}, limit=10)
        assert node is not None and node["children"][0]["path"] == path
        assert paths(store.search("*", "/", flags={}, limit=10)) == [f"/dir {name}", path]
        assert store.delete(path) and store.totals() == Aggregate(0, 1, 0)

    # -- node -----------------------------------------------------------------------------------

    def test_a_file_node_is_exactly_the_documented_dict(self, sample: TreeStore) -> None:
        flags = {"integrity_suspect": {"/a/B.txt"}.__contains__, "agent_missing": {"/x"}.__contains__}
        assert sample.node("/a/B.txt", depth=3, flags=flags, limit=10) == {
            "path": "/a/B.txt",
            "name": "B.txt",
            "is_dir": False,
            "size": 10,
            "mtime": 2.0,
            "integrity_suspect": True,
            "agent_missing": False,
        }

    def test_a_directory_node_at_depth_zero(self, sample: TreeStore) -> None:
        assert sample.node("/a", depth=0, flags={"agent_missing": lambda p: p == "/a"}, limit=10) == {
            "path": "/a",
            "name": "a",
            "is_dir": True,
            "size": 4096,
            "mtime": 1.0,
            "agent_missing": True,
            "files": 5,
            "dirs": 3,
            "bytes": 36,
        }

    def test_absent_paths_give_none(self, sample: TreeStore) -> None:
        assert sample.node("/nope", depth=1, flags={}, limit=10) is None
        assert sample.node("/a/B.txt/under", depth=1, flags={}, limit=10) is None
        assert sample.node("/nope/deeper", depth=1, flags={}, limit=10) is None

    def test_children_sorted_by_name_dirs_and_files_interleaved(self, sample: TreeStore) -> None:
        node = sample.node("/a", depth=1, flags={}, limit=100)
        assert node is not None
        assert [c["name"] for c in node["children"]] == ["B.txt", "empty", "m", "z.bin"]  # plain str order
        assert [c["is_dir"] for c in node["children"]] == [False, True, True, False]
        assert node["children"][2] == {
            "path": "/a/m",
            "name": "m",
            "is_dir": True,
            "size": 0,
            "mtime": 0.0,
            "files": 3,
            "dirs": 1,
            "bytes": 6,
        }  # depth exhausted: no "children" key
        assert "next_cursor" not in node

    def test_depth_counts_levels_below_the_node(self, sample: TreeStore) -> None:
        node = sample.node("/a", depth=2, flags={}, limit=100)
        assert node is not None
        m = next(c for c in node["children"] if c["name"] == "m")
        assert [c["name"] for c in m["children"]] == ["1", "2", "n"]
        assert "children" not in m["children"][2]
        empty = next(c for c in node["children"] if c["name"] == "empty")
        assert empty["children"] == []
        assert "truncated" not in m and "truncated" not in empty

    def test_root_node(self, sample: TreeStore) -> None:
        node = sample.node("/", depth=1, flags={"x": lambda p: p == "/"}, limit=100)
        assert node is not None
        assert (node["path"], node["name"], node["is_dir"], node["x"]) == ("/", "", True, True)
        assert (node["files"], node["dirs"], node["bytes"]) == (6, 4, 41)
        assert [(c["path"], c["name"]) for c in node["children"]] == [("/a", "a"), ("/b", "b")]

    def test_flags_are_called_with_each_nodes_path(self, sample: TreeStore) -> None:
        seen: list[str] = []

        def record(path: str) -> bool:
            seen.append(path)
            return path.endswith("2")

        node = sample.node("/a/m", depth=5, flags={"hot": record}, limit=100)
        assert node is not None
        assert sorted(seen) == ["/a/m", "/a/m/1", "/a/m/2", "/a/m/n", "/a/m/n/3"]
        assert [c["hot"] for c in node["children"]] == [False, True, False]

    @pytest.mark.parametrize("limit", [1, 3, 7, 50])
    def test_paging_with_a_cursor_visits_every_child_once(self, store: TreeStore, limit: int) -> None:
        up(
            store,
            [f(f"/big/file_{n:03d}", n) for n in range(40)] + [d(f"/big/dir_{n:02d}") for n in range(10)],
        )
        names = page_through(store, "/big", limit)
        assert names == sorted([f"file_{n:03d}" for n in range(40)] + [f"dir_{n:02d}" for n in range(10)])

    def test_paging_a_huge_directory_in_small_pages(self, store: TreeStore) -> None:
        up(store, [f(f"/h/{n * 7919 % 1000:04d}") for n in range(1000)])
        assert page_through(store, "/h", 9) == [f"{n:04d}" for n in range(1000)]

    def test_changes_between_pages_neither_repeat_nor_skip_survivors(self, store: TreeStore) -> None:
        up(store, [f(f"/d/{n:03d}") for n in range(0, 100, 2)])  # even names exist throughout
        survivors = {f"{n:03d}" for n in range(0, 100, 2)}

        def churn(page: int) -> None:
            # insert odd names everywhere (before and after the cursor), delete some, re-add others
            up(store, [f(f"/d/{n:03d}") for n in range(page * 7 % 100 | 1, 100, 9)])
            store.delete(f"/d/{(page * 13 % 50) * 2 + 1:03d}")
            up(store, [f("/d/000"), f("/d/098")])  # rewriting survivors must not repeat them

        names = page_through(store, "/d", 6, between=churn)
        assert len(names) == len(set(names)), "a name was listed twice"
        assert survivors <= set(names), "a name that existed throughout was skipped"

    def test_a_cursor_past_the_end_and_a_zero_limit(self, sample: TreeStore) -> None:
        node = sample.node("/a", depth=1, flags={}, limit=10, after="zzz")
        assert node is not None and node["children"] == [] and "next_cursor" not in node
        node = sample.node("/a", depth=1, flags={}, limit=0)
        assert node is not None and node["children"] == []
        assert "next_cursor" not in node and node["truncated"] is True

    def test_max_nodes_cuts_nested_listings_breadth_first(self, store: TreeStore) -> None:
        up(store, [f(f"/t/{k}/{n:02d}") for k in ("a", "b", "c") for n in range(10)])
        full = store.node("/t", depth=2, flags={}, limit=100)
        assert full is not None and count_nodes(full) == 1 + 3 + 30
        assert not any("truncated" in c for c in full["children"])

        node = store.node("/t", depth=2, flags={}, limit=100, max_nodes=20)
        assert node is not None
        assert count_nodes(node) == 20
        a, b, c = node["children"]
        assert [len(a["children"]), len(b["children"]), len(c["children"])] == [10, 6, 0]
        assert "truncated" not in a
        assert b["truncated"] is True and [x["name"] for x in b["children"]] == [f"{n:02d}" for n in range(6)]
        assert c["truncated"] is True
        assert "truncated" not in node and "next_cursor" not in node

    def test_max_nodes_also_bounds_the_top_listing_with_a_cursor(self, store: TreeStore) -> None:
        up(store, [f(f"/t/{n:02d}") for n in range(30)])
        node = store.node("/t", depth=1, flags={}, limit=100, max_nodes=11)
        assert node is not None and len(node["children"]) == 10 and node["next_cursor"] == "09"
        rest = store.node("/t", depth=1, flags={}, limit=100, max_nodes=100, after=node["next_cursor"])
        assert rest is not None and [c["name"] for c in rest["children"]] == [
            f"{n:02d}" for n in range(10, 30)
        ]

    def test_deeper_levels_wait_for_shallower_ones(self, store: TreeStore) -> None:
        up(store, [f("/t/a/x/deep1"), f("/t/a/x/deep2"), f("/t/b/y/deep3"), f("/t/b/z")])
        node = store.node("/t", depth=3, flags={}, limit=100, max_nodes=7)
        assert node is not None and count_nodes(node) == 7
        a, b = node["children"]
        assert [c["name"] for c in a["children"]] == ["x"] and [c["name"] for c in b["children"]] == [
            "y",
            "z",
        ]
        x = a["children"][0]
        assert [c["name"] for c in x["children"]] == ["deep1"] and x["truncated"] is True
        y = b["children"][0]
        assert y["children"] == [] and y["truncated"] is True

    # -- search ---------------------------------------------------------------------------------

    def test_search_by_name_in_component_order(self, store: TreeStore) -> None:
        up(store, [f("/u/a/x.dat"), f("/u/a-b/y.dat"), f("/u/a/z.txt"), f("/u/b.dat"), d("/u/a/c.dat")])
        # depth first, children by name: /u/a/... before /u/a-b although "a-b" < "a/x" as strings
        assert paths(store.search("*", "/u", flags={}, limit=100)) == [
            "/u/a",
            "/u/a/c.dat",
            "/u/a/x.dat",
            "/u/a/z.txt",
            "/u/a-b",
            "/u/a-b/y.dat",
            "/u/b.dat",
        ]
        hits = store.search("*.dat", "/", flags={"hot": lambda p: "x" in p}, limit=100)
        assert paths(hits) == ["/u/a/c.dat", "/u/a/x.dat", "/u/a-b/y.dat", "/u/b.dat"]
        assert hits[0] == {
            "path": "/u/a/c.dat",
            "name": "c.dat",
            "is_dir": True,
            "size": 0,
            "mtime": 0.0,
            "hot": False,
            "files": 0,
            "dirs": 0,
            "bytes": 0,
        }
        assert hits[1] == {
            "path": "/u/a/x.dat",
            "name": "x.dat",
            "is_dir": False,
            "size": 0,
            "mtime": 0.0,
            "hot": True,
        }

    def test_search_excludes_under_itself_and_missing_roots(self, store: TreeStore) -> None:
        up(store, [f("/a/a/a")])
        assert paths(store.search("a", "/a", flags={}, limit=10)) == ["/a/a", "/a/a/a"]
        assert paths(store.search("a", "/", flags={}, limit=10)) == ["/a", "/a/a", "/a/a/a"]
        assert store.search("*", "/nope", flags={}, limit=10) == []
        assert store.search("*", "/a/a/a", flags={}, limit=10) == []  # a file has nothing below it
        assert store.search("*", "/", flags={}, limit=0) == []

    def test_glob_semantics(self, store: TreeStore) -> None:
        up(
            store,
            [f("/g/data_7.dat"), f("/g/data_17.dat"), f("/g/Data_8.dat"), f("/g/x[1].txt"), f("/g/.hidden")],
        )
        assert paths(store.search("data_?.dat", "/", flags={}, limit=10)) == ["/g/data_7.dat"]
        assert paths(store.search("[dD]ata_[0-9].dat", "/", flags={}, limit=10)) == [
            "/g/Data_8.dat",
            "/g/data_7.dat",
        ]
        assert paths(store.search("x[[]1].txt", "/", flags={}, limit=10)) == ["/g/x[1].txt"]
        assert paths(store.search("*", "/g", flags={}, limit=10))[0] == "/g/.hidden"  # '*' matches dots
        assert store.search("DATA_7.DAT", "/", flags={}, limit=10) == []  # case-sensitive

    def test_a_pattern_with_a_slash_matches_full_paths(self, store: TreeStore) -> None:
        up(store, [f("/up/1/sub_1/a.dat"), f("/up/1/sub_2/a.dat"), f("/up/2/sub_1/b.dat"), f("/up/sub_1")])
        assert paths(store.search("*/sub_1/*.dat", "/", flags={}, limit=10)) == [
            "/up/1/sub_1/a.dat",
            "/up/2/sub_1/b.dat",
        ]
        assert paths(store.search("/up/*/sub_1", "/up", flags={}, limit=10)) == ["/up/1/sub_1", "/up/2/sub_1"]
        assert paths(store.search("/up/sub_1", "/", flags={}, limit=10)) == ["/up/sub_1"]

    @pytest.fixture
    def search_tree(self, make_store: MakeStore) -> TreeStore:
        store = make_store()
        rows = [f(f"/s/{a}/{b}/{c}.dat") for a in ("a", "a-b", "b") for b in ("x", "y") for c in range(3)]
        rows += [f("/s/a/x.dat"), d("/s/a/x/empty.dat"), f("/s/zz.dat")]
        up(store, rows)
        return store

    @pytest.mark.parametrize("limit", [1, 2, 5, 100])
    @pytest.mark.parametrize("pattern", ["*", "*.dat", "1.dat", "/s/a*/y/*"])
    def test_search_pages_concatenate_to_the_full_answer(
        self, search_tree: TreeStore, limit: int, pattern: str
    ) -> None:
        full = paths(search_tree.search(pattern, "/s", flags={}, limit=10_000))
        got: list[str] = []
        after = None
        for _ in range(len(full) + 2):  # each page must make progress
            page = paths(search_tree.search(pattern, "/s", flags={}, limit=limit, after=after))
            assert len(page) <= limit
            got.extend(page)
            if len(page) < limit:
                break
            after = page[-1]
        assert got == full
        assert len(full) == len(set(full)) > 0

    def test_search_resumes_after_a_vanished_path(self, search_tree: TreeStore) -> None:
        full = paths(search_tree.search("*", "/s", flags={}, limit=10_000))
        cursor = "/s/a/x/1.dat"
        i = full.index(cursor)
        search_tree.delete("/s/a/x")  # the cursor and its parent are gone
        expected = [p for p in full[i + 1 :] if not p.startswith("/s/a/x/")]
        assert paths(search_tree.search("*", "/s", flags={}, limit=10_000, after=cursor)) == expected
        # a cursor naming a path that never existed resumes at the next path in order
        assert paths(search_tree.search("*", "/s", flags={}, limit=3, after="/s/a-a")) == [
            "/s/a-b",
            "/s/a-b/x",
            "/s/a-b/x/0.dat",
        ]

    def test_a_search_cursor_outside_under(self, search_tree: TreeStore) -> None:
        s = search_tree
        everything = paths(s.search("*", "/s/a-b", flags={}, limit=100))
        assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s/a")) == everything  # before
        assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s")) == everything  # an ancestor
        assert paths(s.search("*", "/s/a-b", flags={}, limit=100, after="/s/a-b")) == everything  # itself
        assert s.search("*", "/s/a-b", flags={}, limit=100, after="/s/b") == []  # past the subtree
        assert s.search("*", "/s/a-b", flags={}, limit=100, after="/zz") == []


__all__ = ["MakeStore", "NaiveTree", "TreeStoreContract", "dir_row", "file_row"]

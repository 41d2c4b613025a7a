"""Snapshot export and import: the imported tree is the exported one, node for node and count for
count, whatever sequence of writes built it; damaged chunks are refused."""

from __future__ import annotations

import sys
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))
from test_storage_memory_properties import UNIVERSE, delete_op, upsert_op

from fustor_core.event_model import Row
from fustor_core.journal import JournalCorrupt
from fustor_core.storage import SnapshotStore
from fustor_storage_memory import MemoryTreeStore
from fustor_storage_memory import snapshot as snapshot_format


def everything(store: MemoryTreeStore) -> dict[str, Any]:
    """Every node with what a lookup and an aggregate say about it, and the dict orders."""
    nodes: dict[str, Any] = {"/": (store.lookup(["/"])[0], store.aggregate("/"))}
    pending = ["/"]
    while pending:
        directory = pending.pop()
        listing = store.listing(directory) or {}
        nodes[directory + "#order"] = list(listing)
        for name, info in listing.items():
            path = f"/{name}" if directory == "/" else f"{directory}/{name}"
            nodes[path] = (info, store.aggregate(path))
            if info.is_dir:
                pending.append(path)
    return nodes


def round_trip(store: MemoryTreeStore) -> MemoryTreeStore:
    copy = MemoryTreeStore()
    copy.import_snapshot(list(store.export_snapshot()))
    return copy


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(upsert_op, upsert_op, delete_op), max_size=25))
def test_an_imported_tree_is_the_exported_one(ops: list[tuple[Any, ...]]) -> None:
    store = MemoryTreeStore()
    for op in ops:
        if op[0] == "upsert":
            _, batch_rows, stamp, mask = op
            indices = (
                range(len(batch_rows))
                if mask is None
                else [i for i, keep in enumerate(mask[: len(batch_rows)]) if keep]
            )
            store.upsert(batch_rows, indices, stamp)
        else:
            store.delete(op[1])
    copy = round_trip(store)
    assert everything(copy) == everything(store)
    assert copy.lookup(UNIVERSE) == store.lookup(UNIVERSE)
    assert copy.totals() == store.totals()


def test_a_big_tree_spans_chunks_and_keeps_names_interned() -> None:
    store = MemoryTreeStore()
    for d in range(60):
        rows = [Row(path=f"/up/d{d}/data_{i}.dat", size=i, mtime=1.5 + i) for i in range(2000)]
        store.upsert(rows, range(len(rows)), 7.0 if d % 2 else None)
    chunks = list(store.export_snapshot())
    assert len(chunks) > 1, "more than CHUNK_BYTES of records"
    assert sum(map(len, chunks)) < 60 * store.totals().files, "a compact snapshot"
    copy = MemoryTreeStore()
    copy.import_snapshot(iter(chunks))
    assert everything(copy) == everything(store)
    up = copy.root.dirs["up"] if copy.root.dirs else None
    assert up is not None and up.dirs is not None
    name_a = next(iter(up.dirs["d0"].files))
    name_b = next(iter(up.dirs["d1"].files))
    assert name_a == name_b and name_a is name_b, "one string per repeated name, as in a live tree"


def test_the_store_offers_the_snapshot_methods() -> None:
    assert isinstance(MemoryTreeStore(), SnapshotStore)


def test_an_empty_tree_round_trips() -> None:
    store = MemoryTreeStore()
    assert everything(round_trip(store)) == everything(store)


@pytest.mark.parametrize(
    "damage",
    [
        lambda chunk: b"XXXX" + chunk[4:],  # another format
        lambda chunk: chunk[:4] + b"not zlib at all",  # does not decompress
        lambda chunk: chunk[:4] + zlib.compress(zlib.decompress(chunk[4:])[:-7]),  # cut short
    ],
    ids=["format", "compression", "truncated"],
)
def test_damaged_chunks_are_refused(damage: Any) -> None:
    store = MemoryTreeStore()
    store.upsert([Row(path=f"/a/f{i}", size=i) for i in range(10)], range(10), None)
    (chunk,) = store.export_snapshot()
    with pytest.raises(JournalCorrupt):
        MemoryTreeStore().import_snapshot([damage(chunk)])
    with pytest.raises(JournalCorrupt):
        MemoryTreeStore().import_snapshot([])
    assert chunk[:4] == snapshot_format.FORMAT

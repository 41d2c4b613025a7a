"""The plugin is found through its entry point and answers only for its backend."""

from __future__ import annotations

from fustor_core.event_model import Row
from fustor_core.plugins import get_plugin_manager
from fustor_core.storage import Aggregate
from fustor_storage_memory import MemoryTreeStore


def test_entry_point_yields_a_working_memory_store() -> None:
    pm = get_plugin_manager(only=["storage-memory"])
    assert pm.has_plugin("storage-memory")
    store = pm.hook.fustor_tree_store(datastore="x", backend="memory", options={})
    assert isinstance(store, MemoryTreeStore)
    store.upsert([Row(path="/a/b", size=3)], range(1), None)
    assert store.totals() == Aggregate(files=1, dirs=1, bytes=3)


def test_each_call_gets_its_own_store() -> None:
    pm = get_plugin_manager(only=["storage-memory"])
    first = pm.hook.fustor_tree_store(datastore="one", backend="memory", options={})
    second = pm.hook.fustor_tree_store(datastore="two", backend="memory", options={})
    first.upsert([Row(path="/only-in-first")], range(1), None)
    assert second.lookup(["/only-in-first"]) == [None]


def test_other_backends_are_left_to_other_plugins() -> None:
    pm = get_plugin_manager(only=["storage-memory"])
    assert pm.hook.fustor_tree_store(datastore="x", backend="other", options={}) is None

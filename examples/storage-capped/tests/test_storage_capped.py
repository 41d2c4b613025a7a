"""The capped store keeps core's tree-store contract (below its cap), and its cap holds."""

from __future__ import annotations

import pytest
from storage_capped import CappedOptions, CappedTreeStore

from fustor_core.errors import ConfigError
from fustor_core.event_model import Row
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing.storage_contract import MakeStore, TreeStoreContract


class TestCappedTreeStore(TreeStoreContract):
    @pytest.fixture
    def make_store(self) -> MakeStore:
        return lambda: CappedTreeStore(CappedOptions())


def test_new_nodes_past_the_cap_are_refused_and_known_ones_still_written() -> None:
    store = CappedTreeStore(CappedOptions(max_nodes=3))
    rows = [Row(path=f"/f{i}", mtime=1.0, size=i) for i in range(5)]
    store.upsert(rows, range(5), None)
    assert store.totals().files == 2 and store.refused == 3, "the root and two files"
    store.upsert([Row(path="/f1", mtime=2.0, size=10)], [0], None)
    assert store.lookup(["/f1"])[0] is not None and store.totals().bytes == 10
    assert store.delete("/f0")
    store.upsert(rows, [4], None)
    assert store.lookup(["/f4"])[0] is not None, "a delete makes room"


def test_fusion_gets_it_by_its_backend_name_with_validated_options() -> None:
    hook = get_plugin_manager(only=["storage-capped"]).hook
    store = hook.fustor_tree_store(datastore="demo", backend="capped", options={"max_nodes": 7})
    assert isinstance(store, CappedTreeStore) and store.max_nodes == 7
    assert hook.fustor_tree_store(datastore="demo", backend="memory", options={}) is None
    with pytest.raises(ConfigError, match=r"datastores\.demo\.storage\.options: max_nodes: Input should be"):
        hook.fustor_tree_store(datastore="demo", backend="capped", options={"max_nodes": 0})

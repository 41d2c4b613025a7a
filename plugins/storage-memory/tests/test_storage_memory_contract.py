"""MemoryTreeStore keeps every promise of the tree-store contract (core's shared suite)."""

from __future__ import annotations

import pytest

from fustor_core.testing.storage_contract import MakeStore, TreeStoreContract
from fustor_storage_memory import MemoryTreeStore


class TestMemoryTreeStore(TreeStoreContract):
    @pytest.fixture
    def make_store(self) -> MakeStore:
        return MemoryTreeStore

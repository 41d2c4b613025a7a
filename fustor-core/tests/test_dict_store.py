"""The tree-store contract suite, run against the smallest store that keeps its promises.

:class:`~fustor_core.testing.DictStore` (the rule harness's tree) answers every call by walking
one dict. That it passes the suite shows two things: the harness's tree behaves as Fusion's does,
and the suite asks a backend for behaviour only, never for a way of storing it.
"""

from __future__ import annotations

import pytest

from fustor_core.testing import DictStore
from fustor_core.testing.storage_contract import MakeStore, TreeStoreContract


class TestDictStore(TreeStoreContract):
    @pytest.fixture
    def make_store(self) -> MakeStore:
        return DictStore

"""The storage hook: Fusion asks every plugin for a tree store and uses the first answer."""

from __future__ import annotations

from typing import Any

from fustor_core import hookimpl
from fustor_storage_memory.store import MemoryTreeStore

BACKEND = "memory"
"""The ``storage.backend`` value this plugin answers to (Fusion's default)."""


@hookimpl
def fustor_tree_store(datastore: str, backend: str, options: dict[str, Any]) -> MemoryTreeStore | None:
    """A fresh, empty in-memory tree for ``datastore`` when the memory backend is asked for.

    The memory backend takes no options; the tree is rebuilt from the agents' snapshots after a
    restart.
    """
    if backend != BACKEND:
        return None
    return MemoryTreeStore()

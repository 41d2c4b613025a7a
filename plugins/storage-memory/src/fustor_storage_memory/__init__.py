"""In-memory tree store for Fusion views (components-only nodes, O(1) aggregates).

The package module is the plugin (entry point ``storage-memory = "fustor_storage_memory"``),
so the hook implementation is re-exported here.
"""

from fustor_storage_memory.plugin import BACKEND, fustor_tree_store
from fustor_storage_memory.store import MemoryTreeStore

__all__ = ["BACKEND", "MemoryTreeStore", "fustor_tree_store"]

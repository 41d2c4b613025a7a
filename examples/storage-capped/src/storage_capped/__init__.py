"""Storage backend ``capped``: a datastore's tree that refuses new nodes past ``max_nodes`` — a
runaway export (a job writing millions of scratch files) fills its own quota, not Fusion's
memory. Nodes it holds keep being updated and deleted; refused rows are counted.

The tree is core's ``DictStore`` (the whole store contract the obvious way: every call walks the
tree), which is enough for an example and for small datastores."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from fustor_core import hookimpl
from fustor_core.config import FustorConfig, parse_config
from fustor_core.event_model import Row
from fustor_core.testing.dict_store import DictStore

BACKEND = "capped"


class CappedOptions(FustorConfig):
    max_nodes: int = Field(default=1_000_000, gt=0)  # datastores.NAME.storage.options.max_nodes


class CappedTreeStore(DictStore):
    def __init__(self, options: CappedOptions) -> None:
        super().__init__()
        self.max_nodes = options.max_nodes
        self.refused = 0

    def _write(self, row: Row, stamp: float | None) -> None:
        if row.path not in self.nodes and len(self.nodes) >= self.max_nodes:
            self.refused += 1  # full: a new node is refused, known ones are still written
            return
        super()._write(row, stamp)


@hookimpl
def fustor_tree_store(datastore: str, backend: str, options: dict[str, Any]) -> CappedTreeStore | None:
    if backend != BACKEND:
        return None
    where = f"datastores.{datastore}.storage.options"
    return CappedTreeStore(parse_config(CappedOptions, options, source=where))

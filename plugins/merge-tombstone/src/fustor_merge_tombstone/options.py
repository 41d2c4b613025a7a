"""The options of the tombstone rule: ``rules: {merge-tombstone: {...}}`` in ``fusion.yaml``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.arbitration import ViewLike
from fustor_core.config import FustorConfig
from fustor_core.options import view_options

NAME = "merge-tombstone"
"""The name the options are registered and configured under (the entry point's)."""


class TombstoneOptions(FustorConfig):
    """How long tombstones last and how many are kept (unknown keys are errors)."""

    ttl_s: float = Field(default=3600.0, ge=0)
    """A tombstone is forgotten (on the tick) once it is older than this *and* no snapshot or
    audit that started before its delete is still running: only such a scan can still deliver
    the stale rows it guards against."""
    max_entries: int = Field(default=2_000_000, ge=1)
    """Bound of the tombstone list; beyond it the oldest tombstones are evicted (an evicted
    tombstone no longer protects: a stale scan row may bring its file back until the next audit)."""


def options_of(view: ViewLike) -> TombstoneOptions:
    """This view's validated options (its datastore's section merged over the top level)."""
    return view_options(view, NAME, TombstoneOptions)

"""The options of the blind-spot rule: ``rules: {merge-blindspot: {...}}`` in ``fusion.yaml``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.arbitration import ViewLike
from fustor_core.config import FustorConfig
from fustor_core.options import view_options

NAME = "merge-blindspot"
"""The name the options are registered and configured under (the entry point's)."""


class BlindSpotOptions(FustorConfig):
    """How long blind spots are reported and how many are kept (unknown keys are errors)."""

    ttl_s: float = Field(default=86_400.0, gt=0)
    """A blind-spot addition or deletion is forgotten (on the tick) this long after it was found,
    unless realtime, a deletion or a new leader settled it sooner."""
    max_entries: int = Field(default=1_000_000, ge=1)
    """Bound of each blind-spot list (additions, deletions); beyond it the oldest are evicted."""


def options_of(view: ViewLike) -> BlindSpotOptions:
    """This view's validated options (its datastore's section merged over the top level)."""
    return view_options(view, NAME, BlindSpotOptions)

"""The options of the suspect rule: ``rules: {merge-suspect: {...}}`` in ``fusion.yaml``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.arbitration import ViewLike
from fustor_core.config import FustorConfig
from fustor_core.options import view_options

NAME = "merge-suspect"
"""The name the options are registered and configured under (the entry point's)."""


class SuspectOptions(FustorConfig):
    """How long a file stays suspect and how many suspects are kept (unknown keys are errors)."""

    ttl_s: float | None = Field(default=None, gt=0)
    """How long a suspect stays before its stability is checked; by default the hot window
    (``hot_window_s``, an engine setting of ``fusion.yaml``)."""
    max_entries: int = Field(default=10_000_000, ge=1)
    """Bound of the suspect list; beyond it the suspects nearest their TTL are evicted (an
    evicted file is no longer flagged ``integrity_suspect``)."""

    def effective_ttl_s(self, hot_window_s: float) -> float:
        """The TTL, falling back to the hot window."""
        return self.ttl_s if self.ttl_s is not None else hot_window_s


def options_of(view: ViewLike) -> SuspectOptions:
    """This view's validated options (its datastore's section merged over the top level)."""
    return view_options(view, NAME, SuspectOptions)

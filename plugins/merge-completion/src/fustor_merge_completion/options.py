"""The options of the completion rule: ``rules: {merge-completion: {...}}`` in ``fusion.yaml``."""

from __future__ import annotations

from pydantic import Field

from fustor_core.arbitration import ViewLike
from fustor_core.config import FustorConfig
from fustor_core.options import view_options

NAME = "merge-completion"
"""The name the options are registered and configured under (the entry point's)."""


class CompletionOptions(FustorConfig):
    """How a datastore's directories are judged complete (unknown keys are errors)."""

    markers: list[str] = Field(default_factory=list)
    """Globs on file names (``RTAComplete.txt``, ``*.done``): a directory holding a matching
    file, with nothing under it written after that file, is complete. Empty (the default): a
    directory is complete once it settled instead (see ``settle_s``)."""
    settle_s: float = Field(default=60.0, ge=0)
    """Without markers, a directory is complete when nothing under it changed for this long (by
    the storage's clock), nothing under it is ``integrity_suspect`` and the leader fully listed
    every directory under it after its last change."""
    recheck_s: float = Field(default=1.0, gt=0)
    """How soon a settled directory that still holds suspects is looked at again."""


def options_of(view: ViewLike) -> CompletionOptions:
    """This view's validated options (its datastore's section merged over the top level)."""
    return view_options(view, NAME, CompletionOptions)

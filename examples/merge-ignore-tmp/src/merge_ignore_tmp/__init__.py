"""Scratch files are never flagged: ``*.tmp`` and ``*.part`` are neither suspect nor blind-spot
additions.

Upload tools write to a scratch name and rename it when done, so flagging the scratch file only
adds noise to the suspect and blind-spot answers. The default rules mark files after each batch;
this hook runs after them (``trylast``) and unlists the scratch files they marked.
"""

from __future__ import annotations

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, ViewLike

SCRATCH_SUFFIXES = (".tmp", ".part")
LISTS_TO_CLEAN = ("suspects", "blind_spot_additions")


def is_scratch_file(path: str) -> bool:
    """True for ``*.tmp`` and ``*.part`` names."""
    return path.endswith(SCRATCH_SUFFIXES)


@hookimpl(trylast=True)
def fustor_batch_applied(view: ViewLike, batch: Batch) -> None:
    scratch = [row.path for row in batch.rows if not row.is_dir and is_scratch_file(row.path)]
    if not scratch:
        return
    for list_name in LISTS_TO_CLEAN:
        entries = view.get_list(list_name)  # None when that rule is not installed
        if entries is not None:
            for path in scratch:
                entries.discard(path)

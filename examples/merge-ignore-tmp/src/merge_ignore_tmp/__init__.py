"""Scratch files (``*.tmp``, ``*.part`` unless configured) are neither suspect nor blind-spot additions.

Upload tools write to a scratch name and rename it when done, so flagging the scratch file only
adds noise to the suspect and blind-spot answers. The default rules mark files after each batch;
this hook runs after them (``trylast``) and unlists the scratch files they marked.
"""

from __future__ import annotations

from pydantic import Field

from fustor_core import hookimpl
from fustor_core.arbitration import Batch, ViewLike
from fustor_core.config import FustorConfig
from fustor_core.options import RegisterRuleOptions

NAME = "merge-ignore-tmp"


class IgnoreTmpOptions(FustorConfig):
    """``rules: {merge-ignore-tmp: {suffixes: [...]}}`` in ``fusion.yaml``."""

    suffixes: list[str] = Field(default_factory=lambda: [".tmp", ".part"])
    lists: list[str] = Field(default_factory=lambda: ["suspects", "blind_spot_additions"])


@hookimpl
def fustor_rule_options(register: RegisterRuleOptions) -> None:
    register(NAME, IgnoreTmpOptions)


@hookimpl(trylast=True)
def fustor_batch_applied(view: ViewLike, batch: Batch) -> None:
    options: IgnoreTmpOptions = view.options(NAME)
    suffixes = tuple(options.suffixes)
    scratch = [row.path for row in batch.rows if not row.is_dir and row.path.endswith(suffixes)]
    lists = [view.get_list(name) for name in options.lists] if scratch else []
    for entries in filter(None, lists):  # None: that list's rule is not installed
        for path in scratch:
            entries.discard(path)

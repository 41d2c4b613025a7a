"""Hook implementations of the mtime rule: wiring between the engine and :mod:`.rules`.

The rule keeps no state of its own: everything it needs is in the tree.
"""

from __future__ import annotations

from fustor_core import hookimpl
from fustor_core.arbitration import AuditRun, Batch, MissingCandidates, ViewLike
from fustor_core.event_model import MessageSource
from fustor_merge_mtime import rules


@hookimpl
def fustor_filter_batch(view: ViewLike, batch: Batch) -> None:
    """Realtime wins: its rows are never judged. Scan rows are judged against the tree."""
    if batch.source is MessageSource.SNAPSHOT:
        rules.arbitrate_snapshot_rows(batch, batch.existing())
    elif batch.source is MessageSource.AUDIT:
        rules.arbitrate_audit_rows(batch, batch.existing())


@hookimpl
def fustor_audit_missing(view: ViewLike, audit: AuditRun, candidates: MissingCandidates) -> None:
    rules.keep_nodes_confirmed_after_audit_start(audit, candidates)
    rules.keep_nodes_whose_directory_changed_after_listing(audit, candidates, view.lookup)

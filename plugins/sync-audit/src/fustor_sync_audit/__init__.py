"""Sync mode ``audit`` (leader only): periodic walk that lists only directories that changed.

Every ``audit_interval_s`` (or on request) the source walks the tree against the tenure's
directory cache (seeded by the snapshot): unchanged directories are sent once with
``audit_skipped`` and not listed, changed ones in full. The walk is framed by ``audit/start``
and ``audit/end``; the end waits until Fusion applied every audit row and reports how many
nodes it removed as missing. Audits and snapshots never overlap (the pipe's scan lock).
"""

from __future__ import annotations

import logging
import time

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RegisterSyncMode, RowDict, SyncContext
from fustor_core.logs import log_event

logger = logging.getLogger(__name__)


class AuditMode:
    """An audit every ``audit_interval_s``, and on request."""

    name = "audit"
    leader_only = True
    order = 20

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, ctx: SyncContext) -> None:
        ctx.ready()
        ctx.report(state="waiting")
        while True:
            await ctx.wait_for_trigger(ctx.settings.audit_interval_s)
            async with ctx.scan_lock:
                await self.audit_once(ctx)

    async def audit_once(self, ctx: SyncContext) -> None:
        clock = time.monotonic()
        seen = {"files": 0, "dirs_listed": 0, "dirs_skipped": 0}
        ctx.report(state="auditing", started_at=time.time(), **seen)
        await ctx.signal("audit/start", wait=False)

        async def publish(rows: list[RowDict]) -> None:
            await ctx.publish(OutgoingEvent("audit", "insert", rows))
            for row in rows:
                if not row.get("is_dir"):
                    seen["files"] += 1
                elif row.get("audit_skipped"):
                    seen["dirs_skipped"] += 1
                else:
                    seen["dirs_listed"] += 1
            ctx.report(**seen)

        batch_size = ctx.settings.batch_size
        await ctx.pump(lambda stop: ctx.source.audit(stop, batch_size, ctx.dir_cache), publish)
        scanned_s = round(time.monotonic() - clock, 3)
        answer = await ctx.signal("audit/end") or {}
        self.runs += 1
        duration = round(time.monotonic() - clock, 3)
        deleted = answer.get("deleted", 0)
        ctx.report(
            state="waiting",
            runs=self.runs,
            last_finished_at=time.time(),
            last_duration_s=duration,
            last_scan_s=scanned_s,
            last_deleted=deleted,
        )
        log_event(
            logger,
            logging.INFO,
            "audit complete",
            pipe=ctx.pipe,
            duration_s=duration,
            deleted=deleted,
            **seen,
        )


@hookimpl
def fustor_sync_modes(register: RegisterSyncMode) -> None:
    register("audit", AuditMode)


__all__ = ["AuditMode", "fustor_sync_modes"]

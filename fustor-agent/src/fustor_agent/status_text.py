"""The agent status for a human (``fustor-agent status``)."""

from __future__ import annotations

import time
from typing import Any

from fustor_agent.snapshot_progress import figures_text


def _age(stamp: float | None) -> str:
    if not stamp:
        return "never"
    seconds = max(0.0, time.time() - stamp)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _mode_line(name: str, progress: dict[str, Any], snapshot: dict[str, Any] | None) -> str:
    state = progress.get("state", "?")
    parts = [f"{name:<9} {state}"]
    if name == "snapshot" and snapshot is not None:
        parts.append(figures_text(snapshot))  # what the live display and the log lines show
    if progress.get("runs"):
        parts.append(f"runs {progress['runs']}")
    if progress.get("last_finished_at") or progress.get("last_run_at"):
        parts.append(f"last {_age(progress.get('last_finished_at') or progress.get('last_run_at'))}")
    if progress.get("last_duration_s") is not None:
        parts.append(f"took {progress['last_duration_s']}s")
    if progress.get("error"):
        parts.append(f"error: {progress['error']}")
    deep = progress.get("deep")
    if name == "audit" and deep and deep.get("slices_per_cycle"):
        parts.append(
            f"deep slice {deep['slice']}/{deep['slices_per_cycle']}"
            f" ({deep['dirs_checked_this_cycle']:,} dirs this cycle,"
            f" last full cycle {_age(deep.get('last_cycle_completed_at'))})"
        )
    return ", ".join(parts)


def render_status(status: dict[str, Any]) -> str:
    lines = [f"agent {status['agent_id']} (fustor-agent {status['version']}), up {status['uptime_s']:.0f}s"]
    for pipe in status["pipes"]:
        counters = pipe["counters"]
        bus = pipe["bus"]
        sent, batches = counters.get("rows_sent", 0), counters.get("batches_sent", 0)
        lines += [
            "",
            f"pipe {pipe['name']} -> datastore {pipe['datastore']}",
            f"  source   {pipe['source']['uri']}",
            f"  role     {pipe['role'] or 'no session'}  session {pipe['session_id'] or '-'}",
            f"  bus      {bus['depth']:,} / {bus['capacity']:,} rows queued"
            f" (producers waited {bus['producer_waits']:,}x, {bus['producer_wait_s']}s)",
            f"  sent     {sent:,} rows in {batches:,} batches,"
            f" {counters.get('rows_dropped', 0):,} dropped by Fusion, {counters.get('retries', 0):,} retries",
            f"  read     {counters.get('realtime_rows_read', 0):,} realtime rows",
        ]
        tenure = pipe.get("tenure")
        if tenure:
            lines.append(
                f"  tenure   {tenure['id']} started with {tenure['started_with']} ({tenure['reason']})"
                f" {_age(tenure.get('started_at'))}{'' if tenure.get('current') else ', ended'}"
            )
        cache = pipe.get("dir_cache") or {}
        if cache.get("saved_at") or cache.get("error"):
            saved = (
                f"{cache.get('entries') or 0:,} dirs, {cache.get('bytes') or 0:,} bytes,"
                f" saved {_age(cache.get('saved_at'))} for view {cache.get('view_id')}"
                if cache.get("saved_at")
                else "none saved"
            )
            error = f"; error: {cache['error']}" if cache.get("error") else ""
            lines.append(f"  cache    {saved}{error}")
        for name, progress in sorted(pipe["modes"].items()):
            lines.append("  " + _mode_line(name, progress, pipe.get("snapshot_progress")))
        if pipe.get("triggerable"):
            lines.append(
                f"  trigger  fustor-agent trigger {{{'|'.join(pipe['triggerable'])}}} {pipe['name']}"
            )
        if pipe.get("stat_errors"):
            errors = ", ".join(f"{reason} {count:,}" for reason, count in sorted(pipe["stat_errors"].items()))
            lines.append(f"  stat errors (directories sent as not fully listed): {errors}")
        if pipe.get("last_error"):
            lines.append(f"  last error ({_age(pipe.get('last_error_at'))}): {pipe['last_error']}")
    return "\n".join(lines)

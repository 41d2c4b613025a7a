"""How a leader tenure starts: resume a known view with an audit, or walk it all with a snapshot.

An audit from the saved directory cache is only as good as the cache's claim: "Fusion's view
holds these directories as listed, at these mtimes". :func:`decide_start` resumes only when
nothing says that claim is broken:

* the view is the one the cache was saved for (same ``view.id``: it survived a Fusion restart
  in its journal, or lived on while the session was renewed) — another id is a new or lost view;
* Fusion's journal has not gone back behind the scan's end (``view.seq`` at least the one saved:
  records the cache counts on were lost, e.g. a power cut before they reached the disk);
* the source is the same (``source_uri``: the export remounted elsewhere, or another path, is
  another tree);
* the agent's clock has not gone back behind the save (a machine restored from an image, with
  an old state dir, may no longer be what it claims);
* the pipe runs an audit mode at all.

What the audit cannot see from directory mtimes — a file rewritten in place while nobody
watched — is the deep audit's job (its rolling slices cover every directory within its period,
and its progress is saved with the cache).
"""

from __future__ import annotations

from fustor_agent.dircache_file import SavedListing
from fustor_core.agent_api import SessionInfo, TenureStart

CLOCK_SLACK_S = 300.0
"""How far behind the cache's save time the clock may read before the cache is distrusted (a
small step back from time synchronisation is normal)."""


def decide_start(
    saved: SavedListing | None,
    session: SessionInfo,
    *,
    source_uri: str,
    now: float,
    audits: bool,
    unreadable: str | None = None,
) -> TenureStart:
    """How the tenure that ``session`` begins should start, given the saved listing (if any).

    :param audits: whether the pipe runs an audit mode (without one nothing could resume).
    :param unreadable: why the cache file could not be used, when it could not.
    """
    if not audits:
        return TenureStart("snapshot", "no_audit", "this pipe runs no audit mode to resume with")
    if session.view_id is None:
        return TenureStart("snapshot", "view_unknown", "Fusion did not say which view it holds")
    if saved is None:
        if unreadable is not None:
            detail = f"the directory cache is unusable: {unreadable}"
            return TenureStart("snapshot", "cache_unreadable", detail)
        return TenureStart("snapshot", "no_cache", "no directory cache was saved for this pipe")
    if saved.view_id != session.view_id:
        return TenureStart(
            "snapshot",
            "view_changed",
            f"the cache describes view {saved.view_id}, Fusion holds a new or rebuilt view {session.view_id}",
        )
    if saved.source_uri != source_uri:
        return TenureStart(
            "snapshot",
            "source_changed",
            f"the cache was made from {saved.source_uri}, the source is now {source_uri}",
        )
    if saved.view_seq is not None and session.view_seq is not None and session.view_seq < saved.view_seq:
        return TenureStart(
            "snapshot",
            "view_behind",
            f"view {session.view_id} is at journal seq {session.view_seq}, before the {saved.view_seq} "
            "of the scan the cache was saved after: Fusion lost records",
        )
    if now + CLOCK_SLACK_S < saved.saved_at:
        return TenureStart(
            "snapshot",
            "clock_went_back",
            f"the clock reads {round(saved.saved_at - now)} s before the cache was saved",
        )
    age = max(0.0, now - saved.saved_at)
    if session.view_restored:
        return TenureStart(
            "audit",
            "view_restored",
            f"Fusion restored view {session.view_id} from its journal; resuming from a cache of "
            f"{len(saved.entries)} directories saved {round(age)} s ago",
        )
    return TenureStart(
        "audit",
        "same_view",
        f"view {session.view_id} is still the one synced; resuming from a cache of "
        f"{len(saved.entries)} directories saved {round(age)} s ago",
    )

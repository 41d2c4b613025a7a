"""How a leader tenure starts: every reason to distrust a saved cache leads to a snapshot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fustor_agent.dircache_file import SavedListing
from fustor_agent.resume import CLOCK_SLACK_S, decide_start
from fustor_core.agent_api import SessionInfo

NOW = 1_700_000_000.0
SAVED = SavedListing(
    view_id="v-1", view_seq=100, source_uri="fs:///mnt/a", saved_at=NOW - 60, entries={"/": [1.0, []]}
)
SESSION = SessionInfo("s-1", "leader", view_id="v-1", view_seq=150, view_restored=True)


def start(
    saved: SavedListing | None = SAVED, session: SessionInfo = SESSION, **options: object
) -> tuple[str, str]:
    settings: dict[str, object] = {"source_uri": "fs:///mnt/a", "now": NOW, "audits": True, **options}
    decided = decide_start(saved, session, **settings)  # type: ignore[arg-type]
    assert decided.detail
    return decided.kind, decided.reason


def test_the_view_restored_from_fusions_journal_resumes_with_an_audit() -> None:
    assert start() == ("audit", "view_restored")


def test_the_same_view_still_alive_resumes_with_an_audit() -> None:
    assert start(session=replace(SESSION, view_restored=False)) == ("audit", "same_view")
    # the same seq (nothing happened since) is not "behind"
    assert start(session=replace(SESSION, view_seq=100)) == ("audit", "view_restored")


@pytest.mark.parametrize(
    ("saved", "session", "options", "reason"),
    [
        (None, SESSION, {}, "no_cache"),
        (None, SESSION, {"unreadable": "checksum differs"}, "cache_unreadable"),
        (SAVED, replace(SESSION, view_id="v-2", view_restored=False), {}, "view_changed"),
        (SAVED, replace(SESSION, view_id=None), {}, "view_unknown"),
        (SAVED, SESSION, {"source_uri": "fs:///mnt/b"}, "source_changed"),
        (SAVED, replace(SESSION, view_seq=99), {}, "view_behind"),
        (SAVED, SESSION, {"now": SAVED.saved_at - CLOCK_SLACK_S - 1}, "clock_went_back"),
        (SAVED, SESSION, {"audits": False}, "no_audit"),
    ],
)
def test_a_new_lost_or_untrusted_view_starts_with_a_snapshot(
    saved: SavedListing | None, session: SessionInfo, options: dict[str, object], reason: str
) -> None:
    assert start(saved, session, **options) == ("snapshot", reason)


def test_a_small_step_back_of_the_clock_is_tolerated_and_an_unknown_seq_is_not_behind() -> None:
    assert start(now=SAVED.saved_at - CLOCK_SLACK_S + 1)[0] == "audit"
    assert start(replace(SAVED, view_seq=None))[0] == "audit"
    assert start(session=replace(SESSION, view_seq=None))[0] == "audit"

"""Replaying journal records on a view: the same calls, at the same pinned instants."""

from __future__ import annotations

from collections.abc import Callable

from fustor_core.journal import JournalRecord
from fustor_fusion.feed.outcome import header as outcome_header
from fustor_fusion.journaling import inputs
from fustor_fusion.journaling.recording import JournaledView


def _event(view: JournaledView, payload: bytes) -> int:
    session_id, event = inputs.decode_event(payload)
    view.apply_event(event, session_id=session_id)
    return len(event.rows)


def _signal(view: JournaledView, payload: bytes) -> int:
    signal, session_id = inputs.decode_signal(payload)
    handler = SIGNALS.get(signal)
    if handler is None:
        raise ValueError(f"unknown signal {signal!r}")
    handler(view, session_id)
    return 1


def _sentinel(view: JournaledView, payload: bytes) -> int:
    updates = inputs.decode_sentinel(payload)
    view.sentinel_feedback(updates)
    return max(1, len(updates))


def _leader(view: JournaledView, payload: bytes) -> int:
    view.leader_session(inputs.decode_leader(payload))
    return 1


def _tick(view: JournaledView, payload: bytes) -> int:
    view.tick()
    return 1


SIGNALS: dict[str, Callable[[JournaledView, str | None], object]] = {
    "snapshot_start": JournaledView.snapshot_start,
    "snapshot_end": JournaledView.snapshot_end,
    "audit_start": JournaledView.audit_start,
    "audit_end": JournaledView.audit_end,
}

HANDLERS: dict[str, Callable[[JournaledView, bytes], int]] = {
    inputs.EVENT: _event,
    inputs.SIGNAL: _signal,
    inputs.SENTINEL: _sentinel,
    inputs.LEADER: _leader,
    inputs.TICK: _tick,
}


def replay_record(view: JournaledView, record: JournalRecord) -> int:
    """Apply one record as it was applied live: same call, clock pinned to its time. Returns its
    weight (the rows it carried; 1 for the small inputs), as the snapshot policy counts them.
    The outcome recorded with it is not recomputed: it only moves the view's change count on.

    Raises ValueError (or the decoder's error) for a record that cannot be decoded; the caller
    reports and skips it.
    """
    handler = HANDLERS.get(record.kind)
    if handler is None:
        raise ValueError(f"unknown record kind {record.kind!r}")
    payload, outcome = inputs.split_outcome(inputs.unpack(record.payload))
    if outcome is not None:  # what the input changed was recorded: the change count goes on
        view.change_tracker.replayed(*outcome_header(outcome))
    clock = view.input_time
    clock.pinned = record.time
    try:
        return handler(view, payload)
    finally:
        clock.pinned = None

"""``JournaledView``: a :class:`~fustor_fusion.engine.View` that records each of its inputs.

Every call that changes the view — an event, a snapshot/audit signal, sentinel feedback, a new
leader session, a tick — is applied with the view's clock pinned to Fusion's time, and handed to
the ``recorder`` (the view's journal writer) as a record stamped with that time, in the order
applied (callers hold the datastore's write lock). Replaying the records on a fresh view
(:mod:`fustor_fusion.journaling.replay`) therefore makes the same calls at the same instants, and
the rules — deterministic given their inputs and the time — reach the same state.

The record is handed over once the input was applied, with its *outcome*: what the input changed,
collected by the view's :class:`~fustor_fusion.feed.tracking.ChangeTracker` for the change feed
(None when it changed nothing). An input that raised half-way is recorded all the same (replay
meets the same failure), with what it had changed so far.

Queries are not inputs: they read the live clock and change nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event
from fustor_core.logs import log_event
from fustor_fusion.engine import BatchResult, View
from fustor_fusion.feed import hooks as feed_hooks
from fustor_fusion.feed.outcome import Outcome
from fustor_fusion.feed.tracking import ChangeTracker
from fustor_fusion.journaling import inputs

logger = logging.getLogger(__name__)

Recorder = Callable[[str, float, Callable[[], bytes], int, Outcome | None], None]
"""Called with an input's kind, Fusion time, a function encoding its payload (called only by a
recorder that stores it), its weight (rows it carries; 1 for the small inputs) and its outcome."""


class JournaledView(View):
    """A view whose inputs are recorded (when a recorder is set) and applied at a pinned time."""

    def __init__(
        self,
        name: str,
        pm: pluggy.PluginManager,
        settings: ArbitrationSettings | None = None,
        *,
        storage_backend: str = "memory",
        storage_options: dict[str, Any] | None = None,
        rule_options: Mapping[str, BaseModel] | None = None,
        now: Callable[[], float],
    ) -> None:
        self.input_time = inputs.InputTime(now)
        self.recorder: Recorder | None = None
        """Set once the view is loaded; None while replaying."""
        feed_hooks.register(pm)
        super().__init__(
            name,
            pm,
            settings,
            storage_backend=storage_backend,
            storage_options=storage_options,
            rule_options=rule_options,
            now=self.input_time,
        )
        self.change_tracker = ChangeTracker(self)
        """What each input changes (only inputs applied live, with a recorder, are tracked)."""
        self.change_tracker.watch_flag_lists()

    @contextmanager
    def _input(self, kind: str, encode: Callable[[], bytes], weight: int = 1) -> Iterator[None]:
        clock = self.input_time
        if clock.pinned is not None:  # replaying: the record exists, its time is pinned
            yield
            return
        at = clock.real()
        recorder = self.recorder
        tracker = self.change_tracker
        if recorder is not None:
            tracker.begin()
        clock.pinned = at
        try:
            yield
        finally:
            clock.pinned = None
            if recorder is not None:
                recorder(kind, at, encode, weight, self._outcome(tracker))

    def _outcome(self, tracker: ChangeTracker) -> Outcome | None:
        try:
            return tracker.finish()
        except Exception as exc:  # the input is recorded whatever happens to the feed
            log_event(logger, logging.ERROR, "change tracking failed", datastore=self.name, error=repr(exc))
            return None

    def flags_changed(self, paths: Iterable[str]) -> None:
        self.change_tracker.flags_changed(paths)

    # -- the inputs -----------------------------------------------------------------------------

    def apply_event(self, event: Event, *, session_id: str | None = None) -> BatchResult:
        with self._input(inputs.EVENT, lambda: inputs.encode_event(event, session_id), len(event.rows)):
            return super().apply_event(event, session_id=session_id)

    def snapshot_start(self, session_id: str | None) -> None:
        with self._input(inputs.SIGNAL, lambda: inputs.encode_signal("snapshot_start", session_id)):
            super().snapshot_start(session_id)

    def snapshot_end(self, session_id: str | None) -> list[str]:
        with self._input(inputs.SIGNAL, lambda: inputs.encode_signal("snapshot_end", session_id)):
            return super().snapshot_end(session_id)

    def audit_start(self, session_id: str | None) -> None:
        with self._input(inputs.SIGNAL, lambda: inputs.encode_signal("audit_start", session_id)):
            super().audit_start(session_id)

    def audit_end(self, session_id: str | None) -> list[str]:
        with self._input(inputs.SIGNAL, lambda: inputs.encode_signal("audit_end", session_id)):
            return super().audit_end(session_id)

    def leader_session(self, session_id: str) -> None:
        with self._input(inputs.LEADER, lambda: inputs.encode_leader(session_id)):
            super().leader_session(session_id)

    def tick(self) -> None:
        with self._input(inputs.TICK, bytes):
            super().tick()

    def sentinel_feedback(self, updates: list[SentinelUpdate]) -> BatchResult:
        with self._input(inputs.SENTINEL, lambda: inputs.encode_sentinel(updates), max(1, len(updates))):
            return super().sentinel_feedback(updates)

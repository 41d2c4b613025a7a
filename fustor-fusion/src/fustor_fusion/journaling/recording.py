"""``JournaledView``: a :class:`~fustor_fusion.engine.View` that records each of its inputs.

Every call that changes the view — an event, a snapshot/audit signal, sentinel feedback, a new
leader session, a tick — is handed to the ``recorder`` (the view's journal writer) as a record
stamped with Fusion's time, *before* it is applied and in the order applied (callers hold the
datastore's write lock), and is applied with the view's clock pinned to that time. Replaying the
records on a fresh view (:mod:`fustor_fusion.journaling.replay`) therefore makes the same calls at
the same instants, and the rules — deterministic given their inputs and the time — reach the same
state.

Queries are not inputs: they read the live clock and change nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.arbitration import SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event
from fustor_fusion.engine import BatchResult, View
from fustor_fusion.journaling import inputs

Recorder = Callable[[str, float, Callable[[], bytes], int], None]
"""Called with an input's kind, Fusion time, a function encoding its payload (called only by a
recorder that stores it) and its weight (rows it carries; 1 for the small inputs)."""


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
        """Set once the view is loaded; None while replaying and without a journal."""
        super().__init__(
            name,
            pm,
            settings,
            storage_backend=storage_backend,
            storage_options=storage_options,
            rule_options=rule_options,
            now=self.input_time,
        )

    @contextmanager
    def _input(self, kind: str, encode: Callable[[], bytes], weight: int = 1) -> Iterator[None]:
        clock = self.input_time
        if clock.pinned is not None:  # replaying: the record exists, its time is pinned
            yield
            return
        at = clock.real()
        recorder = self.recorder
        if recorder is not None:
            recorder(kind, at, encode, weight)
        clock.pinned = at
        try:
            yield
        finally:
            clock.pinned = None

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

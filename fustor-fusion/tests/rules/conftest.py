"""Fixtures for the rule scenarios: a real engine View with the default plugins, a fake clock.

Scenarios speak the language of the arbitration rules (docs/arbitration.md) through
:class:`Feed` ("a snapshot row", "an audit of /d", "a realtime delete"), so each test reads like
the situation it checks. Time never passes
by itself: tests move ``feed.clock.t``, so TTLs and hot windows are checked without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from fustor_core.arbitration import SentinelUpdate, parent_of
from fustor_core.config import ArbitrationSettings
from fustor_core.errors import NotFound
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.engine import BatchResult, View

DEFAULT_PLUGINS = ("storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot")
T0 = 1_700_000_000.0
LEADER = "leader-session"


class FakeClock:
    """Fusion's wall clock, moved by hand."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class Feed:
    """A view and the agent-side gestures that feed it."""

    def __init__(self, view: View, clock: FakeClock) -> None:
        self.view = view
        self.clock = clock

    # -- rows -------------------------------------------------------------------------------

    @staticmethod
    def file(
        path: str,
        mtime: float,
        *,
        size: int = 1,
        parent_mtime: float | None = None,
        local_write: bool = False,
    ) -> Row:
        """A file row; ``parent_mtime`` (scan rows) also names the parent; ``local_write``
        (realtime rows) says the agent saw the write happen on its host."""
        parent = parent_of(path) if parent_mtime is not None else None
        return Row(
            path=path,
            mtime=mtime,
            size=size,
            parent_path=parent,
            parent_mtime=parent_mtime,
            local_write=local_write,
        )

    @staticmethod
    def dir(path: str, mtime: float, *, audit_skipped: bool = False) -> Row:
        return Row(path=path, is_dir=True, mtime=mtime, audit_skipped=audit_skipped)

    # -- events -----------------------------------------------------------------------------

    def send(
        self, source: str, kind: str, rows: Iterable[Row], *, agent_time: float | None = None
    ) -> BatchResult:
        observed = self.clock.t if agent_time is None else agent_time
        event = Event(
            message_source=MessageSource(source),
            event_type=EventType(kind),
            index=int(observed * 1000),
            rows=list(rows),
        )
        return self.view.apply_event(event, session_id=LEADER)

    def realtime(self, kind: str, *rows: Row, agent_time: float | None = None) -> BatchResult:
        return self.send("realtime", kind, rows, agent_time=agent_time)

    def realtime_delete(self, *paths: str, parent_mtime: float | None = None) -> BatchResult:
        rows = [
            Row(path=p, parent_path=parent_of(p) if parent_mtime else None, parent_mtime=parent_mtime)
            for p in paths
        ]
        return self.send("realtime", "delete", rows)

    def snapshot(self, *rows: Row) -> BatchResult:
        return self.send("snapshot", "insert", rows)

    def audit(self, *rows: Row) -> BatchResult:
        """Rows of the running audit (start one with :meth:`audit_start`)."""
        return self.send("audit", "insert", rows)

    def audit_start(self) -> None:
        self.view.audit_start(LEADER)

    def audit_end(self) -> list[str]:
        return self.view.audit_end(LEADER)

    def full_audit(self, *rows: Row) -> list[str]:
        """A whole audit in one go; returns what its end deleted."""
        self.audit_start()
        self.audit(*rows)
        return self.audit_end()

    def snapshot_start(self) -> None:
        self.view.snapshot_start(LEADER)

    def snapshot_end(self) -> list[str]:
        return self.view.snapshot_end(LEADER)

    def full_snapshot(self, *rows: Row) -> list[str]:
        """A whole snapshot in one go (a complete listing); returns what its end deleted."""
        self.snapshot_start()
        self.snapshot(*rows)
        return self.snapshot_end()

    def sentinel(self, *updates: SentinelUpdate) -> BatchResult:
        return self.view.sentinel_feedback(list(updates))

    # -- answers ----------------------------------------------------------------------------

    def node(self, path: str) -> dict[str, Any] | None:
        try:
            return self.view.tree(path, depth=0)
        except NotFound:
            return None

    def exists(self, path: str) -> bool:
        return self.node(path) is not None

    def flag(self, path: str, name: str) -> bool:
        node = self.node(path)
        assert node is not None, f"{path} is not in the tree"
        return bool(node[name])

    def suspects(self) -> list[str]:
        return [entry["path"] for entry in self.view.suspects()]

    def additions(self) -> list[str]:
        return [entry["path"] for entry in self.view.blind_spots()["additions"]]

    def deletions(self) -> list[str]:
        return [entry["path"] for entry in self.view.blind_spots()["deletions"]]

    def stat(self, key: str) -> Any:
        return self.view.stats()[key]


MakeFeed = Callable[..., Feed]


def build_feed(*, exclude: Iterable[str] = (), extra: Iterable[object] = (), **settings: Any) -> Feed:
    """A fresh view (own clock, own plugin manager) with the default plugins minus ``exclude``,
    plus ``extra`` plugin objects registered in code."""
    excluded = set(exclude)
    wanted = [name for name in DEFAULT_PLUGINS if name not in excluded]
    pm = get_plugin_manager(only=wanted, extra=extra)
    for name in wanted:
        assert pm.has_plugin(name), f"plugin {name!r} is not installed"
    clock = FakeClock()
    return Feed(View("rules", pm, ArbitrationSettings(**settings), now=clock), clock)


@pytest.fixture
def make_feed() -> MakeFeed:
    """Factory: ``make_feed(exclude=["merge-tombstone"], hot_window_s=60)``."""
    return build_feed


@pytest.fixture
def feed() -> Feed:
    """A view with every default rule and default settings (hot window 600 s, TTL 3600 s)."""
    return build_feed()

"""One lifecycle: the rule authors' harness and Fusion's engine answer a scenario identically.

The same inputs — scans with rows missing, realtime writes and deletes (some racing a scan),
stale rows, sentinel feedback, time passing — go to a real :class:`View` (storage-memory and the
default rules) and to a :class:`RuleHarness` loaded with the same rules (core's dict-backed
tree). Both run core's :class:`~fustor_core.lifecycle.ViewLifecycle`, so every verdict, every
deletion, the final tree with its flags and the rules' stats must agree; a rule tested in the
harness is tested in the engine's order.
"""

from __future__ import annotations

from typing import Any

from fustor_core.arbitration import SentinelUpdate
from fustor_core.config import ArbitrationSettings
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import T0, FakeView, RuleHarness
from fustor_fusion.engine import View

RULES = ["merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]
LEADER = "leader"


class Both:
    """Feeds the engine and the harness the same inputs and checks they answer the same."""

    def __init__(self) -> None:
        self.t = T0
        settings = ArbitrationSettings()
        self.view = View(
            "parity", get_plugin_manager(only=["storage-memory", *RULES]), settings, now=self.now
        )
        self.harness = RuleHarness(get_plugin_manager(only=RULES), FakeView(settings))
        self.verdicts: list[Any] = []

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds
        self.harness.view.clock.t = self.t

    def send(self, source: str, kind: str, *rows: Row) -> None:
        event = Event(
            message_source=MessageSource(source),
            event_type=EventType(kind),
            index=int(self.t * 1000),
            rows=list(rows),
        )
        engine = self.view.apply_event(event.model_copy(deep=True), session_id=LEADER)
        batch = self.harness.run_batch(event, session_id=LEADER)
        unchanged = len(batch.skipped - set(batch.dropped))
        harness = (len(rows) - len(batch.dropped) - unchanged, len(batch.dropped), unchanged)
        assert (engine.accepted, engine.dropped, engine.unchanged) == harness, (source, kind, rows)
        assert engine.reasons == dict(batch.drop_reasons())
        self.verdicts.append(engine.reasons)

    def scan(self, kind: str, *batches: list[Row]) -> list[str]:
        """A whole scan (start, its batches, end); returns what its end deleted, checked equal."""
        h = self.harness
        if kind == "audit":
            self.view.audit_start(LEADER)
            h.lifecycle.start_scan("audit", LEADER)
        else:
            self.view.snapshot_start(LEADER)
            h.lifecycle.start_scan("snapshot", LEADER)
        for rows in batches:
            self.send(kind, "insert", *rows)
        engine = self.view.audit_end(LEADER) if kind == "audit" else self.view.snapshot_end(LEADER)
        assert engine == h.lifecycle.end_scan("audit" if kind == "audit" else "snapshot", LEADER)
        return engine

    def sentinel(self, *updates: SentinelUpdate) -> None:
        engine = self.view.sentinel_feedback(list(updates))
        changes = self.harness.sentinel_feedback(*updates)
        assert engine.accepted == len(changes.upserted) + len(changes.deleted)

    def tick(self) -> None:
        self.view.tick()
        self.harness.tick()

    def assert_same_tree(self) -> None:
        """Every node with every rule's flags, the rules' stats and sentinel tasks agree."""
        flags = self.harness.flags()
        engine = self.view.store.search("*", "/", flags=flags, limit=100_000)
        assert engine == self.harness.view.store.search("*", "/", flags=flags, limit=100_000)
        rule_stats = self.harness.stats()
        assert {key: self.view.stats()[key] for key in rule_stats} == rule_stats
        assert self.view.sentinel_tasks() == self.harness.sentinel_tasks()


def file(path: str, mtime: float, *, size: int = 1, parent_mtime: float | None = None) -> Row:
    parent = path.rpartition("/")[0] or "/"
    return Row(path=path, mtime=mtime, size=size, parent_path=parent if parent_mtime is not None else None,
               parent_mtime=parent_mtime)  # fmt: skip


def directory(path: str, mtime: float, *, audit_skipped: bool = False) -> Row:
    return Row(path=path, is_dir=True, mtime=mtime, audit_skipped=audit_skipped)


def test_engine_and_harness_agree_on_a_day_of_inputs() -> None:
    both = Both()
    cold = T0 - 86_400
    both.scan(
        "snapshot",
        [directory("/up", cold), directory("/up/run1", cold), file("/up/run1/a.dat", cold, size=10)],
        [file("/up/run1/b.dat", cold, size=20), file("/up/run1/hot.part", T0 - 30), directory("/old", cold)],
        [file("/old/x", cold), file("/old/y", cold)],
    )
    both.assert_same_tree()

    both.advance(60)
    both.send("realtime", "insert", file("/up/run2/new.dat", both.t - 1, parent_mtime=both.t - 1))
    both.send("realtime", "delete", Row(path="/old/x"))
    both.send("snapshot", "insert", file("/old/x", cold))  # stale: a tombstone drops it
    both.send("audit", "delete", Row(path="/old/y"))  # a delete event deletes, whatever its source
    both.assert_same_tree()

    both.advance(60)
    both.view.audit_start(LEADER)
    both.harness.lifecycle.start_scan("audit", LEADER)
    both.send(
        "audit",
        "insert",
        directory("/up", cold),
        directory("/up/run1", both.t - 5),
        file("/up/run1/a.dat", cold, size=10, parent_mtime=both.t - 5),
        file("/up/run1/late.dat", both.t - 5, parent_mtime=both.t - 5),  # a blind-spot addition
    )
    both.advance(1)
    racing = file("/up/run1/b.dat", both.t, size=21, parent_mtime=both.t)  # written during the audit
    both.send("realtime", "insert", racing)
    both.send("audit", "insert", directory("/old", cold, audit_skipped=True))
    deleted = both.view.audit_end(LEADER)
    assert deleted == both.harness.lifecycle.end_scan("audit", LEADER)
    # /up was listed without run2 (its parent mtime never changed); the hot file and the file
    # confirmed by realtime after the audit started are kept by the rules
    assert deleted == ["/up/run2"]
    assert both.view.lookup(["/up/run1/hot.part"])[0] is not None
    both.assert_same_tree()

    both.sentinel(
        SentinelUpdate("/up/run1/late.dat", True, both.t + 1, 5),
        SentinelUpdate("/up/run1/hot.part", False),
        SentinelUpdate("/up", True, cold, 0),  # a directory: left alone
    )
    both.assert_same_tree()

    both.advance(4000)
    both.tick()
    # a snapshot listing / and /up in full, without /old and /up/run1: both go
    assert both.scan("snapshot", [directory("/", cold), directory("/up", cold)]) == ["/old", "/up/run1"]
    both.assert_same_tree()
    assert any(both.verdicts), "the scenario exercised the rules' drops"

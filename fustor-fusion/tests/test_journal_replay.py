"""A view rebuilt from its journal is the view that was live: replayed inputs, snapshots, both.

Random scenarios drive a view with every default rule through every kind of input — realtime
writes and deletes, snapshots and audits that find deletions, sentinel feedback, new leaders,
ticks that expire suspects — while its records are collected as the journal would store them.
The same records are then replayed on fresh views whose own clock is far in the future (so an
input that read the live clock instead of its record's time would show), alone or after a
snapshot taken at a random point; every resulting state must equal the live one.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from fustor_core.arbitration import SentinelUpdate
from fustor_core.event_model import Event, EventType, MessageSource, Row
from fustor_core.journal import JournalRecord
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.config import FusionConfig
from fustor_fusion.feed.outcome import Outcome
from fustor_fusion.journaling import inputs
from fustor_fusion.journaling.recording import JournaledView
from fustor_fusion.journaling.replay import replay_record
from fustor_fusion.journaling.view_snapshot import dump_view, restore_view
from fustor_fusion.rule_options import RuleOptions

DEFAULT_PLUGINS = [
    "storage-memory",
    "merge-mtime",
    "merge-tombstone",
    "merge-suspect",
    "merge-blindspot",
    "merge-completion",
]
T0 = 1_700_000_000.0
CONFIG = FusionConfig(
    datastores={"demo": {}},
    hot_window_s=60,
    rules={
        "merge-tombstone": {"ttl_s": 120},
        "merge-suspect": {"ttl_s": 30},
        "merge-completion": {"settle_s": 5},
    },
)
SETTINGS = CONFIG.arbitration()
RULE_OPTIONS = RuleOptions(CONFIG, get_plugin_manager(only=DEFAULT_PLUGINS)).for_datastore(
    "demo", CONFIG.datastores["demo"]
)


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def new_view(now: Callable[[], float]) -> JournaledView:
    pm = get_plugin_manager(only=DEFAULT_PLUGINS)
    return JournaledView("demo", pm, SETTINGS, rule_options=RULE_OPTIONS, now=now)


def describe(view: JournaledView) -> dict[str, Any]:
    """Everything the view holds, in a comparable form."""
    tree: dict[str, tuple[Any, ...]] = {}
    pending = ["/"]
    while pending:
        directory = pending.pop()
        for name, info in (view.store.listing(directory) or {}).items():
            path = f"/{name}" if directory == "/" else f"{directory}/{name}"
            tree[path] = tuple(info)
            if info.is_dir:
                pending.append(path)
    scans = {}
    for slot in ("audit", "snapshot"):
        scan = getattr(view, slot)
        scans[slot] = (
            None
            if scan is None
            else (scan.session_id, scan.started_at, scan.kind, scan.listed, scan.seen, scan.skipped)
        )
    return {
        "tree": tree,
        "totals": view.store.totals(),
        "lists": {
            name: sorted((path, sorted(record.items())) for path, record in entries.items())
            for name, entries in view.published_lists().items()
        },
        "clock": view.clock.state(),
        "counters": (view.counters.accepted, view.counters.unchanged, dict(view.counters.by_reason)),
        "ends": (view.last_snapshot_end, view.last_audit_end),
        "scans": scans,
    }


class Scenario:
    """Random inputs over a small tree, so paths collide and every rule has work."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = Clock(T0)
        self.view = new_view(self.clock)
        self.records: list[JournalRecord] = []
        self.view.recorder = self.record
        self.leader = "s-0"
        self.files: dict[str, tuple[int, float]] = {}  # the "export": what a scan would list

    def record(
        self, kind: str, at: float, encode: Callable[[], bytes], weight: int, outcome: Outcome | None
    ) -> None:
        payload = encode() if outcome is None else inputs.with_outcome(encode(), outcome.encode())
        stored = inputs.pack(payload)  # as the journal keeper stores it
        self.records.append(JournalRecord(len(self.records) + 1, at, kind, stored))

    def path(self) -> str:
        return f"/d{self.rng.randrange(3)}/s{self.rng.randrange(2)}/f{self.rng.randrange(6)}"

    def event(self, source: MessageSource, kind: EventType, rows: list[Row]) -> Event:
        index = int((self.clock.t + self.rng.choice([0, 0, 1, -2])) * 1000)
        return Event(message_source=source, event_type=kind, index=index, rows=rows)

    def mtime(self) -> float:
        return self.clock.t - self.rng.choice([0.5, 5, 30, 300, 5000]) + self.rng.choice([0, 0, 10])

    def step(self) -> None:
        rng, view = self.rng, self.view
        self.clock.t += rng.choice([0.1, 0.5, 2, 10, 40])
        action = rng.randrange(12)
        if action < 4:  # realtime writes (some local, so the clock learns a skew)
            rows = []
            for _ in range(rng.randrange(1, 5)):
                path = self.path()
                mtime, size = self.mtime(), rng.randrange(1000)
                self.files[path] = (size, mtime)
                parent_mtime = self.mtime() if rng.random() < 0.5 else None  # refreshes the directory
                rows.append(
                    Row(
                        path=path,
                        size=size,
                        mtime=mtime,
                        parent_mtime=parent_mtime,
                        local_write=rng.random() < 0.7,
                    )
                )
            view.apply_event(
                self.event(MessageSource.REALTIME, EventType.UPDATE, rows), session_id=self.leader
            )
        elif action == 4:  # realtime delete of a file or a directory
            path = self.path() if rng.random() < 0.7 else f"/d{rng.randrange(3)}"
            for known in [p for p in self.files if p == path or p.startswith(path + "/")]:
                del self.files[known]
            view.apply_event(
                self.event(
                    MessageSource.REALTIME, EventType.DELETE, [Row(path=path, is_dir=path.count("/") == 1)]
                )
            )
        elif action == 5:  # a blind-spot change on the "export", for a scan to find
            path = self.path()
            if path in self.files and rng.random() < 0.5:
                del self.files[path]
            else:
                self.files[path] = (rng.randrange(1000), self.mtime())
        elif action in (6, 7):
            self.scan(MessageSource.SNAPSHOT if action == 6 else MessageSource.AUDIT)
        elif action == 8:
            suspects = view.get_list("suspects")
            known = sorted(self.files)  # files a blind-spot change may have rewritten
            paths = [*list(suspects or [])[:5], self.path(), *rng.sample(known, min(2, len(known)))]
            updates = [
                SentinelUpdate(p, p in self.files, self.files[p][1] if p in self.files else None, None)
                for p in paths
            ]
            view.sentinel_feedback(updates)
        elif action == 9:
            self.leader = f"s-{rng.randrange(1000)}"
            view.leader_session(self.leader)
        else:
            view.tick()

    def scan(self, source: MessageSource) -> None:
        """A leader's snapshot or audit of the current "export", in a few batches."""
        view, sid = self.view, self.leader
        start, end = (
            (view.snapshot_start, view.snapshot_end)
            if source is MessageSource.SNAPSHOT
            else (view.audit_start, view.audit_end)
        )
        start(sid)
        dirs = sorted({p.rsplit("/", 1)[0] for p in self.files} | {f"/d{i}" for i in range(3)})
        rows = [
            Row(path=d, is_dir=True, mtime=self.clock.t - 1, audit_skipped=self.rng.random() < 0.2)
            for d in dirs
        ]
        rows += [Row(path=p, size=s, mtime=m) for p, (s, m) in sorted(self.files.items())]
        for i in range(0, len(rows), 7):
            self.clock.t += 0.2
            view.apply_event(self.event(source, EventType.INSERT, rows[i : i + 7]), session_id=sid)
        self.clock.t += 0.2
        end(sid)


def replay(records: list[JournalRecord], view: JournaledView) -> JournaledView:
    for record in records:
        replay_record(view, record)
    return view


@pytest.mark.parametrize("seed", range(12))
def test_replay_and_snapshots_rebuild_the_live_view(seed: int) -> None:
    scenario = Scenario(seed)
    cut = scenario.rng.randrange(40, 160)
    snapshot: list[bytes] = []
    for step in range(200):
        if step == cut:
            snapshot = list(dump_view(scenario.view))
            records_in_snapshot = len(scenario.records)
        scenario.step()
    live = describe(scenario.view)
    assert live["tree"] and scenario.records, "the scenario did something"

    far_future = Clock(T0 + 10**7)  # an input reading the clock instead of its record would show
    assert describe(replay(scenario.records, new_view(far_future))) == live

    restored = new_view(far_future)
    restore_view(restored, snapshot)
    assert describe(replay(scenario.records[records_in_snapshot:], restored)) == live

    at_the_end = new_view(far_future)
    restore_view(at_the_end, dump_view(scenario.view))
    assert describe(at_the_end) == live


def test_every_input_kind_is_recorded() -> None:
    kinds: set[str] = set()
    for seed in range(3):
        scenario = Scenario(seed)
        for _ in range(200):
            scenario.step()
        kinds.update(record.kind for record in scenario.records)
    assert kinds == set(inputs.KINDS)


def test_the_pinned_time_is_what_the_rules_see() -> None:
    """Without pinning, a replay on a clock far in the future would expire every suspect."""
    scenario = Scenario(0)
    view = scenario.view
    hot = Row(path="/hot", size=1, mtime=scenario.clock.t - 1)
    view.apply_event(
        Event(message_source=MessageSource.SNAPSHOT, event_type=EventType.INSERT, index=0, rows=[hot])
    )
    view.tick()
    assert "/hot" in (view.get_list("suspects") or [])
    replayed = replay(scenario.records, new_view(Clock(T0 + 10**7)))
    assert "/hot" in (replayed.get_list("suspects") or [])


def test_a_snapshot_taken_in_a_worker_thread_reads_the_lists_in_the_loop_thread() -> None:
    """A PathList may reorganise itself when read, so a snapshot dumped by a worker thread (while
    queries keep reading the lists in the event loop) must read them in the loop's thread."""
    import asyncio
    import threading

    from fustor_core.pathlist import PathList
    from fustor_fusion.journaling.keeper import _loop_reader

    readers: set[str] = set()

    class Probe(PathList):
        def items(self):  # type: ignore[no-untyped-def]
            for pair in super().items():
                readers.add(threading.current_thread().name)
                yield pair

    scenario = Scenario(1)
    for _ in range(60):
        scenario.step()
    probe = Probe({"mtime": float}, age="mtime")
    for i in range(120_000):  # more than one piece
        probe.put(f"/p/{i}", mtime=float(i))
    scenario.view.register_list("probe", probe)

    async def snapshot() -> list[bytes]:
        reader = _loop_reader(asyncio.get_running_loop())
        return await asyncio.to_thread(lambda: list(dump_view(scenario.view, reader)))

    chunks = asyncio.run(snapshot())
    assert readers == {threading.main_thread().name}
    restored = new_view(Clock(T0))
    restored.register_list("probe", Probe({"mtime": float}, age="mtime"))
    restore_view(restored, chunks)
    assert describe(restored) == describe(scenario.view)

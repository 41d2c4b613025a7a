"""The pausable source holds exactly the armed scan's batch with the armed row, and nothing else.

The wrapped source here is a list of batches (the driver only looks at row paths), so these tests
need nothing but fustor-core; the end-to-end matrix uses it around the real ``fs`` source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from fustor_core import hookimpl
from fustor_core.agent_api import OutgoingEvent, RowDict, SentinelCheck
from fustor_core.errors import ConfigError
from fustor_core.plugins import get_plugin_manager, require_registry
from fustor_test_pausable import Gate, PausableSource, ScanMissedRow

BATCHES = [
    [{"path": "/d", "is_dir": True}, {"path": "/d/a.dat"}],
    [{"path": "/d/victim.dat"}, {"path": "/d/z.dat"}],
    [{"path": "/e", "is_dir": True}],
]


class ListSource:
    """A source whose scans yield fixed batches."""

    uri = "list://"

    def __init__(self, batches: list[list[RowDict]], **options: Any) -> None:
        self.batches = batches
        self.options = options
        self.extra_feature = "from the inner source"

    def snapshot(self, stop: threading.Event, batch_size: int, dir_cache: Any) -> Iterator[list[RowDict]]:
        yield from self.batches

    def audit(self, stop: threading.Event, batch_size: int, dir_cache: Any) -> Iterator[list[RowDict]]:
        yield from self.batches

    def watch(
        self, stop: threading.Event, ready: Callable[[], None], batch_size: int
    ) -> Iterator[list[OutgoingEvent]]:
        ready()
        yield []

    def recheck(self, paths: Sequence[str]) -> list[SentinelCheck]:
        return [{"path": p, "exists": False} for p in paths]

    def counters(self) -> dict[str, int]:
        return {"entries": 7}

    def close(self) -> None:
        pass


class Consumer:
    """Drains a scan in a thread, as the agent's pump does, remembering what came through."""

    def __init__(self, batches: Iterator[list[RowDict]]) -> None:
        self.received: list[list[RowDict]] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(batches,), daemon=True)
        self.thread.start()

    def _run(self, batches: Iterator[list[RowDict]]) -> None:
        for rows in batches:
            self.received.append(rows)
        self.done.set()


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    return Gate(tmp_path / "gate")


def pausable(gate: Gate, **kwargs: Any) -> PausableSource:
    return PausableSource(ListSource(BATCHES), gate, **kwargs)


def test_an_unarmed_scan_passes_every_batch_through(gate: Gate) -> None:
    source = pausable(gate)
    assert list(source.audit(threading.Event(), 100, {})) == BATCHES
    assert list(source.snapshot(threading.Event(), 100, {})) == BATCHES
    assert source.counters() == {"entries": 7, "scan_pauses": 0}


def test_the_armed_scan_holds_the_batch_with_the_row_until_released(gate: Gate) -> None:
    source = pausable(gate)
    gate.arm("audit", "/d/victim.dat")
    consumer = Consumer(source.audit(threading.Event(), 100, {}))
    paused = gate.wait_paused(5)
    assert paused["scan"] == "audit" and paused["path"] == "/d/victim.dat" and paused["rows_held"] == 2
    assert not consumer.done.wait(0.2)
    assert consumer.received == BATCHES[:1]  # everything before the held batch went through
    gate.release()
    assert consumer.done.wait(5)
    assert consumer.received == BATCHES
    assert source.counters()["scan_pauses"] == 1


def test_the_arm_is_for_one_scan_kind_and_is_used_once(gate: Gate) -> None:
    source = pausable(gate)
    gate.arm("snapshot", "/d/victim.dat")
    assert list(source.audit(threading.Event(), 100, {})) == BATCHES  # not armed for audits
    consumer = Consumer(source.snapshot(threading.Event(), 100, {}))
    gate.wait_paused(5)
    gate.release()
    assert consumer.done.wait(5)
    assert list(source.snapshot(threading.Event(), 100, {})) == BATCHES  # consumed: no second hold


def test_a_scan_that_never_meets_the_row_says_so(gate: Gate) -> None:
    source = pausable(gate)
    gate.arm("audit", "/elsewhere.dat")
    assert list(source.audit(threading.Event(), 100, {})) == BATCHES
    with pytest.raises(ScanMissedRow, match=r"/elsewhere\.dat"):
        gate.wait_paused(5)


def test_a_stopped_scan_drops_the_held_batch_and_ends(gate: Gate) -> None:
    source = pausable(gate)
    stop = threading.Event()
    gate.arm("audit", "/d/victim.dat")
    consumer = Consumer(source.audit(stop, 100, {}))
    gate.wait_paused(5)
    stop.set()
    assert consumer.done.wait(5)
    assert consumer.received == BATCHES[:1]


def test_a_hold_ends_by_itself_after_max_hold_s(gate: Gate) -> None:
    source = pausable(gate, max_hold_s=0.2)
    gate.arm("snapshot", "/d/victim.dat")
    consumer = Consumer(source.snapshot(threading.Event(), 100, {}))
    assert consumer.done.wait(5)
    assert consumer.received == BATCHES


def test_waiting_for_a_pause_that_never_comes_times_out(gate: Gate) -> None:
    gate.arm("audit", "/d/victim.dat")
    with pytest.raises(TimeoutError):
        gate.wait_paused(0.1)


def test_realtime_rechecks_and_other_attributes_are_the_inner_sources(gate: Gate) -> None:
    source = pausable(gate)
    assert source.uri == "list://"
    assert source.recheck(["/x"]) == [{"path": "/x", "exists": False}]
    ready = threading.Event()
    assert list(source.watch(threading.Event(), ready.set, 10)) == [[]]
    assert ready.is_set()
    assert source.extra_feature == "from the inner source"


class ListDriverPlugin:
    @hookimpl
    def fustor_source_drivers(self, register: Callable[[str, Callable[..., Any]], None]) -> None:
        register("list", lambda options: ListSource(BATCHES, **options))


def test_the_factory_builds_the_inner_driver_found_through_the_plugin_manager(tmp_path: Path) -> None:
    pm = get_plugin_manager(only=[], extra=[ListDriverPlugin()])
    source = PausableSource.from_config(
        {"gate": str(tmp_path / "g"), "inner": {"driver": "list", "colour": "blue"}, "max_hold_s": 3},
        plugin_manager=pm,
    )
    assert isinstance(source.inner, ListSource) and source.inner.options == {"colour": "blue"}
    assert source.gate.directory == tmp_path / "g" and source.max_hold_s == 3


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"gate": "/g", "inner": {"driver": "nope"}}, "no source driver 'nope'"),
        ({"gate": "/g", "inner": {"driver": "pausable"}}, "not 'pausable'"),
        ({"gate": "/g", "inner": {"path": "/x"}}, "inner.driver"),
        ({"inner": {"driver": "list"}}, "gate"),
    ],
)
def test_bad_sections_are_refused_with_the_key(section: dict[str, Any], message: str) -> None:
    pm = get_plugin_manager(only=[], extra=[ListDriverPlugin()])
    with pytest.raises(ConfigError, match=message):
        PausableSource.from_config(section, plugin_manager=pm)


def test_the_installed_package_registers_the_driver_through_its_entry_point() -> None:
    drivers = require_registry(get_plugin_manager(only=["test-pausable"]), "fustor_source_drivers", "source")
    assert set(drivers) == {"pausable"}

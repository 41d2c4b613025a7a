"""Durable views through the HTTP API: restarts, loading, answers that wait for the disk, damage.

Each test runs real Fusion apps on 127.0.0.1 with the sqlite journal in its own directory and
restarts them in-process (stop, start again on the same journal). A *gated* journal — the real
sqlite journal whose ``open`` or ``append`` waits for the test's go-ahead — makes "still
loading" and "not yet durable" observable.
"""

from __future__ import annotations

import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import httpx
import pytest
from fusion_testkit import T0, FakeClock, Fusion, StartFusion, error_of, event, row, wait_until

from fustor_core import hookimpl
from fustor_core.errors import ConfigError, PluginError
from fustor_core.journal import JournalRecord, JournalState, NewRecord
from fustor_journal_sqlite import SqliteJournal


def journal_config(path: Path, **extra: Any) -> dict[str, Any]:
    return {"driver": "sqlite", "path": str(path), **extra}


def ready(fusion: Fusion) -> None:
    client = fusion.client()
    wait_until(lambda: client.get("/readyz").status_code == 200, timeout=20)


def upload(agent: Any, directory: str, files: int, *, mtime: float = T0 - 3600) -> None:
    rows = [row(directory, is_dir=True, mtime=mtime)]
    rows += [row(f"{directory}/f{i}", size=i + 1, mtime=mtime) for i in range(files)]
    assert agent.send_ok(event("snapshot", "insert", *rows))["accepted"] == len(rows)


def state_of(fusion: Fusion) -> dict[str, Any]:
    """What a client can see of the view: the whole tree and the lists."""
    query = fusion.query()
    return {
        "tree": query.ok("tree", path="/", depth=-1),
        "suspects": query.ok("suspects"),
        "blind_spots": query.ok("blind-spots"),
        "counts": {
            key: value
            for key, value in query.ok("stats").items()
            if key
            in (
                "files",
                "dirs",
                "bytes",
                "suspects",
                "tombstones",
                "blind_spot_additions",
                "blind_spot_deletions",
                "rows_accepted",
                "rows_dropped",
                "clock_skew_s",
            )
        },
    }


def busy_view(agent: Any) -> None:
    """A leader's snapshot, realtime writes (hot files are suspect) and a delete (a tombstone)."""
    agent.signal_ok("snapshot/start")
    upload(agent, "/up/a", 20)
    upload(agent, "/up/b", 5)
    agent.signal_ok("snapshot/end")
    agent.send_ok(
        event("realtime", "update", row("/up/a/new", size=9, mtime=T0 - 1, local_write=True)),
    )
    agent.send_ok(event("realtime", "delete", row("/up/b/f0")))
    agent.signal_ok("audit/start")
    upload(agent, "/up/c", 3, mtime=T0 - 2)  # hot: suspect


# -- restarts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("final_snapshot", [True, False], ids=["clean-stop", "replay-only"])
def test_a_view_survives_a_restart(start_fusion: StartFusion, tmp_path: Path, final_snapshot: bool) -> None:
    clock = FakeClock()
    settings = {
        "rules": True,
        "clock": clock,
        "journal": journal_config(tmp_path, snapshot_on_stop=final_snapshot),
    }
    first = start_fusion(**settings)
    ready(first)
    opened = first.agent().open()
    answer = opened.http.post(opened.url("/heartbeat")).json()
    assert answer["view"]["restored"] is False
    busy_view(opened)
    before = state_of(first)
    assert before["counts"]["suspects"] and before["counts"]["tombstones"], before["counts"]
    view_id = answer["view"]["id"]
    first.stop()

    again = start_fusion(**settings)
    ready(again)
    assert state_of(again) == before
    agent = again.agent()
    opened_again = agent.http.post("/api/v1/ingest/sessions", json={"agent_id": "host-a"}).json()
    assert opened_again["view"]["id"] == view_id and opened_again["view"]["restored"] is True
    report = again.query().ok("stats")["journal"]
    if final_snapshot:
        assert report["snapshot_seq"] is not None and report["replayed_records"] == 0
    else:
        assert report["snapshot_seq"] is None and report["replayed_records"] > 10
    assert report["problems"] == []
    # the audit that was running when Fusion stopped still ends, and deletes what it did not list
    agent.sid = opened_again["session_id"]
    assert agent.signal_ok("audit/start")["signal"] == "audit_start"


def test_the_view_id_and_seq_are_told_to_agents(start_fusion: StartFusion, tmp_path: Path) -> None:
    fusion = start_fusion(journal=journal_config(tmp_path))
    ready(fusion)
    agent = fusion.agent()
    opened = agent.http.post("/api/v1/ingest/sessions", json={"agent_id": "host-a"}).json()
    view = opened["view"]
    assert set(view) == {"id", "seq", "restored"} and view["id"].startswith("v-")
    agent.sid = opened["session_id"]
    agent.send_ok(event("realtime", "update", row("/x", size=1)))
    beat = agent.heartbeat().json()["view"]
    assert beat["id"] == view["id"] and beat["seq"] > view["seq"], "the event's record moved seq on"
    stats = fusion.query().ok("stats")["journal"]
    assert stats["driver"] == "sqlite" and stats["seq"] >= beat["seq"]
    # a signal's answer carries the view too, its seq covering the signal's own record: what an
    # agent saves with its directory cache at a scan's end
    started = agent.signal_ok("audit/start")["view"]
    ended = agent.signal_ok("audit/end")["view"]
    assert started["id"] == ended["id"] == view["id"]
    assert beat["seq"] < started["seq"] < ended["seq"] <= fusion.query().ok("stats")["journal"]["seq"]


# -- loading ---------------------------------------------------------------------------------------


class Gate:
    """Makes the sqlite journal's open or append wait for the test (fault injection)."""

    def __init__(self, hold: str) -> None:
        self.hold = hold
        self.release = threading.Event()
        self.reached = threading.Event()

    def wait(self, what: str) -> None:
        if what == self.hold:
            self.reached.set()
            assert self.release.wait(timeout=30), "the test never released the gate"


class GatedJournal(SqliteJournal):
    gate: Gate

    def open(self) -> JournalState:
        self.gate.wait("open")
        return super().open()

    def append(self, records: list[NewRecord]) -> int:  # type: ignore[override]
        self.gate.wait("append")
        return super().append(records)

    def read(self, after_seq: int, limit: int) -> list[JournalRecord]:
        if self.gate.hold == "read":
            raise sqlite3.DatabaseError("database disk image is malformed")
        return super().read(after_seq, limit)


class GatedPlugin:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @hookimpl(tryfirst=True)
    def fustor_journal(self, datastore: str, driver: str, options: dict[str, Any]) -> SqliteJournal | None:
        if driver != "gated":
            return None
        journal = GatedJournal(Path(options["path"]) / datastore)
        journal.gate = self.gate
        return journal


def test_readyz_names_the_view_being_loaded_and_the_view_answers_503(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    gate = Gate("open")
    fusion = start_fusion(
        journal={"driver": "gated", "path": str(tmp_path)}, extra_plugins=(GatedPlugin(gate),)
    )
    assert gate.reached.wait(10)
    status, code, message = error_of(fusion.client().get("/readyz"))
    assert (status, code) == (503, "not_ready")
    assert "loading view" in message and "opening the journal" in message
    status, code, message = error_of(fusion.query().get("stats"))
    assert (status, code) == (503, "view_loading") and "'demo'" in message
    refused = fusion.agent().http.post("/api/v1/ingest/sessions", json={"agent_id": "a"})
    assert error_of(refused)[:2] == (503, "view_loading")
    gate.release.set()
    ready(fusion)
    fusion.agent().open()


def test_an_events_answer_waits_until_its_record_is_durable(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    gate = Gate("none yet")
    fusion = start_fusion(
        journal={"driver": "gated", "path": str(tmp_path)}, extra_plugins=(GatedPlugin(gate),)
    )
    ready(fusion)
    agent = fusion.agent().open()
    gate.hold = "append"
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(agent.send, event("realtime", "update", row("/kept", size=3)))
        assert gate.reached.wait(10), "the record went to the journal"
        with pytest.raises(FutureTimeout):
            pending.result(timeout=0.5)  # applied in memory, but not answered before it is durable
        gate.release.set()
        answer: httpx.Response = pending.result(timeout=10)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1
    fusion.stop()
    with sqlite3.connect(tmp_path / "demo" / "journal.sqlite") as db:
        kinds = [kind for (kind,) in db.execute("SELECT kind FROM records ORDER BY seq")]
    assert "event" in kinds and "leader" in kinds


# -- damage ---------------------------------------------------------------------------------------


def test_a_corrupt_last_record_is_reported_and_skipped(start_fusion: StartFusion, tmp_path: Path) -> None:
    settings = {"journal": journal_config(tmp_path, snapshot_on_stop=False), "tick_interval_s": 3600}
    first = start_fusion(**settings)
    ready(first)
    agent = first.agent().open()
    for name in ("one", "two", "three"):
        upload(agent, f"/{name}", 2)
    first.stop()
    with sqlite3.connect(tmp_path / "demo" / "journal.sqlite") as db:
        db.execute(
            "UPDATE records SET payload = substr(payload, 1, length(payload) / 2)"
            " WHERE seq = (SELECT max(seq) FROM records)"
        )
    again = start_fusion(**settings)
    ready(again)
    stats = again.query().ok("stats")
    assert stats["files"] == 4, "the batches before the damaged record are back"
    assert any("failed its checksum" in p for p in stats["journal"]["problems"])
    assert again.query().get("tree", path="/three").status_code == 404


def test_a_damaged_snapshot_falls_back_to_the_records(start_fusion: StartFusion, tmp_path: Path) -> None:
    settings = {"journal": journal_config(tmp_path)}
    first = start_fusion(**settings)
    ready(first)
    upload(first.agent().open(), "/up", 10)
    first.stop()  # writes a snapshot; the records stay (retention 24 h)
    (snapshot,) = (tmp_path / "demo" / "snapshots").glob("*.snap")
    data = bytearray(snapshot.read_bytes())
    data[-20] ^= 0xFF
    snapshot.write_bytes(bytes(data))
    again = start_fusion(**settings)
    ready(again)
    stats = again.query().ok("stats")
    assert stats["files"] == 10
    assert stats["journal"]["snapshot_seq"] is None and stats["journal"]["replayed_records"] > 0
    assert any("cannot be loaded" in p for p in stats["journal"]["problems"])


def test_a_view_that_cannot_be_rebuilt_starts_a_new_incarnation(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    settings = {"journal": journal_config(tmp_path, retention_s=0)}
    first = start_fusion(**settings)
    ready(first)
    agent = first.agent().open()
    upload(agent, "/up", 10)
    old_id = agent.heartbeat().json()["view"]["id"]
    first.stop()  # the snapshot at stop trims every record it contains (retention 0)
    (snapshot,) = (tmp_path / "demo" / "snapshots").glob("*.snap")
    snapshot.write_bytes(b"garbage")
    again = start_fusion(**settings)
    ready(again)
    stats = again.query().ok("stats")
    assert stats["files"] == 0
    assert stats["journal"]["restored"] is False and stats["journal"]["id"] != old_id
    assert any("starts empty" in p for p in stats["journal"]["problems"])


def test_a_journal_that_cannot_be_read_starts_a_new_incarnation(
    start_fusion: StartFusion, tmp_path: Path
) -> None:
    gate = Gate("nothing")
    settings = {
        "journal": {"driver": "gated", "path": str(tmp_path), "snapshot_on_stop": False},
        "extra_plugins": (GatedPlugin(gate),),
    }
    first = start_fusion(**settings)
    ready(first)
    agent = first.agent().open()
    upload(agent, "/up", 3)
    old_id = agent.heartbeat().json()["view"]["id"]
    first.stop()
    gate.hold = "read"  # the records are there, but reading them fails
    again = start_fusion(**settings)
    ready(again)
    stats = again.query().ok("stats")
    assert stats["files"] == 0 and stats["journal"]["id"] != old_id
    assert any("cannot be read" in p and "new view id" in p for p in stats["journal"]["problems"])


# -- configuration ----------------------------------------------------------------------------------


def test_journal_configuration_errors_name_the_key(start_fusion: StartFusion, tmp_path: Path) -> None:
    with pytest.raises(PluginError, match=r"journal\.driver: no installed plugin provides .*'lmdb'"):
        start_fusion(journal={"driver": "lmdb"})
    with pytest.raises(ConfigError, match=r"journal\.synchronous"):
        start_fusion(journal=journal_config(tmp_path, synchronous="sometimes"))
    with pytest.raises(ConfigError, match=r"journal: .*driver 'none' takes no options \(remove 'path'\)"):
        start_fusion(journal={"driver": "none", "path": str(tmp_path)})

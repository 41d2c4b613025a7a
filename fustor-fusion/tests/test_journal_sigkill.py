"""SIGKILL at random points during ingest: every batch Fusion acknowledged is in the view after the
restart.

A real ``fustor-fusion serve`` process with the default sqlite journal, a real client thread
sending batches as fast as Fusion answers (each batch is one upload directory of 40 files), and
a kill at a random moment: after a random number of acknowledged batches the process gets
SIGKILL while the next request is in flight — in the middle of applying, committing, answering,
or writing a snapshot (snapshots are taken every few hundred rows here, and the journal is
trimmed behind them, so kills land in those too). After each restart the whole tree is read
back and compared with what the client had been told was kept. ``FUSTOR_SIGKILL_ROUNDS`` sets
the number of kills (20 by default).
"""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fusion_testkit import INGEST_KEY, QUERY_KEY, wait_until

FILES_PER_BATCH = 40
ROUNDS = int(os.environ.get("FUSTOR_SIGKILL_ROUNDS", "20"))


def fusion_command() -> list[str]:
    return [sys.executable, "-m", "fustor_fusion.cli"]


class FusionProcess:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.config = workdir / "fusion.yaml"
        self.config.write_text(
            yaml.safe_dump(
                {
                    "tick_interval_s": 0.1,
                    "journal": {
                        "driver": "sqlite",
                        "path": str(workdir / "journal"),
                        "snapshot_every_rows": 300,
                        "snapshot_tree_ratio": 0,
                        "retention_s": 0,
                    },
                    "datastores": {
                        "demo": {
                            "api_keys": [
                                {"key": INGEST_KEY, "scopes": ["ingest"]},
                                {"key": QUERY_KEY, "scopes": ["query"]},
                            ]
                        }
                    },
                }
            )
        )
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> None:
        log = open(self.workdir / "fusion.log", "a")  # noqa: SIM115 - closed by the pump thread
        self.process = subprocess.Popen(
            [*fusion_command(), "serve", "--config", str(self.config), "--port", "0"],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "FUSTOR_HOME": str(self.workdir / "home")},
        )
        assert self.process.stderr is not None
        lines: queue.Queue[str] = queue.Queue()
        stderr = self.process.stderr

        def pump() -> None:
            with log:
                for line in stderr:
                    log.write(line)
                    lines.put(line)

        threading.Thread(target=pump, daemon=True).start()

        def listening() -> str | None:
            try:
                line = lines.get(timeout=0.1)
            except queue.Empty:
                assert self.process is not None and self.process.poll() is None, "Fusion exited early"
                return None
            match = re.search(r"msg=\"fusion listening\" url=(\S+)", line)
            return match.group(1) if match else None

        self.url = wait_until(listening, timeout=60)
        with httpx.Client(base_url=self.url, timeout=5) as client:
            wait_until(lambda: client.get("/readyz").status_code == 200, timeout=60, interval=0.02)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def batch_rows(n: int) -> list[dict[str, Any]]:
    directory = f"/b{n:05d}"
    rows: list[dict[str, Any]] = [{"path": directory, "is_dir": True, "mtime": 1_600_000_000.0}]
    rows += [
        {"path": f"{directory}/f{i}", "size": n * 100 + i, "mtime": 1_600_000_000.0 + n}
        for i in range(FILES_PER_BATCH)
    ]
    return rows


class Sender(threading.Thread):
    """Sends batch after batch on one session and records each batch answered 200; kills Fusion
    the moment the ``kill_after``-th acknowledgement arrives (``at_ack``), or a random fraction of
    a millisecond or three into the next request (in flight: applying, committing, answering)."""

    def __init__(
        self, url: str, first: int, acked: list[int], *, pid: int, kill_after: int, at_ack: bool, delay: float
    ) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.next = first
        self.acked = acked
        self.pid = pid
        self.kill_after = kill_after
        self.at_ack = at_ack
        self.delay = delay
        self.error: BaseException | None = None

    def kill(self) -> None:
        os.kill(self.pid, signal.SIGKILL)

    def run(self) -> None:
        try:
            with httpx.Client(base_url=self.url, headers={"X-API-Key": INGEST_KEY}, timeout=10) as client:
                opened = client.post("/api/v1/ingest/sessions", json={"agent_id": "killer"})
                sid = opened.json()["session_id"]
                seq = 0
                while True:
                    seq += 1
                    body = {
                        "seq": seq,
                        "events": [
                            {
                                "message_source": "realtime",
                                "event_type": "update",
                                "index": 1_600_000_000_000,
                                "rows": batch_rows(self.next),
                            }
                        ],
                    }
                    answer = client.post(f"/api/v1/ingest/sessions/{sid}/events", json=body)
                    if answer.status_code != 200:
                        raise AssertionError(f"batch {self.next}: {answer.status_code} {answer.text}")
                    self.acked.append(self.next)
                    self.next += 1
                    if seq == self.kill_after:
                        if self.at_ack:
                            self.kill()
                        else:
                            threading.Timer(self.delay, self.kill).start()
        except (httpx.TransportError, KeyError, ValueError) as exc:  # the kill
            self.error = exc


def view_batches(url: str) -> dict[int, int]:
    """Batch number -> files Fusion holds for it."""
    with httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=30) as client:
        root = client.get("/api/v1/views/demo/tree", params={"path": "/", "depth": 1, "limit": 10000})
        assert root.status_code == 200, root.text
        return {int(child["name"][1:]): child["files"] for child in root.json().get("children", [])}


@pytest.fixture
def fusion(tmp_path: Path) -> Iterator[FusionProcess]:
    process = FusionProcess(tmp_path)
    yield process
    if process.process is not None and process.process.poll() is None:
        process.kill()


def test_every_acknowledged_batch_survives_sigkill(fusion: FusionProcess) -> None:
    rng = random.Random(int(os.environ.get("FUSTOR_SIGKILL_SEED", "12")))
    acked: list[int] = []
    next_batch = 1
    for _ in range(ROUNDS):
        fusion.start()
        held = view_batches(fusion.url)
        assert set(acked) <= set(held), f"acknowledged but lost: {sorted(set(acked) - set(held))[:10]}"
        assert all(files == FILES_PER_BATCH for files in held.values()), "a batch came back in part"
        next_batch = max([next_batch - 1, *held]) + 1
        assert fusion.process is not None
        sender = Sender(
            fusion.url,
            next_batch,
            acked,
            pid=fusion.process.pid,
            kill_after=rng.randrange(1, 30),
            at_ack=rng.random() < 0.5,
            delay=rng.uniform(0, 0.003),
        )
        sender.start()
        sender.join(timeout=60)
        assert not sender.is_alive(), "Fusion was not killed"
        fusion.process.wait(timeout=30)
        assert sender.error is not None, "the sender stopped because Fusion died"
        next_batch = sender.next + 1
    fusion.start()
    held = view_batches(fusion.url)
    assert set(acked) <= set(held), f"acknowledged but lost: {sorted(set(acked) - set(held))[:10]}"
    assert len(acked) > ROUNDS
    log = (fusion.workdir / "fusion.log").read_text()
    assert log.count("snapshot written") >= ROUNDS, "snapshots were taken (and trimmed) between the kills"

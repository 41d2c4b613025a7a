"""A change-feed consumer across Fusion restarts: every change exactly once, in order — or a reset.

Real ``fustor-fusion serve`` processes with the sqlite journal; a sender thread pushes batches
(one upload directory of 40 files each) as fast as Fusion answers; a consumer thread long-polls
the feed and keeps its cursor in memory, across the restarts, retrying while Fusion is down.
Fusion is stopped in turn with SIGTERM (a clean stop: final snapshot) and SIGKILL (at a random
point of ingest), then started again on the same journal.

* With the journal's default retention, the consumer is never reset: the ``seq`` it saw run
  1, 2, 3... without a gap or a repeat, every acknowledged batch is in it once, its rows in order.
* With retention 0 and a snapshot every few hundred rows (records are trimmed right behind each
  snapshot), a consumer that falls behind may get ``reset``: it then re-reads the tree and goes
  on from the answer's ``next``. Either way its mirror of the view equals the tree at the end.

The tree includes its root (the feed reports the root like any directory when its flags change).
Every directory comes from realtime events and the leader never lists one, so the completion
rule must never flag one ``complete`` — across restarts too: after a restart the rule rebuilds
its figures from the restored tree, and it used to take every directory as listed, flagging them
all (the root included) at the first tick. After the first restart the test waits for the tick
that rebuilt and decided (the completion stats count the uploads) before sending, and the feed
must not have reported any directory complete.
"""

from __future__ import annotations

import base64
import random
import signal
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fusion_testkit import QUERY_KEY, wait_until
from test_journal_sigkill import FILES_PER_BATCH, FusionProcess, Sender

from fustor_core.arbitration import is_under

CHANGES = "/api/v1/views/demo/changes"


class Consumer(threading.Thread):
    """Follows the feed with long polls; keeps a mirror of the view and every change it saw."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.url = ""
        self.cursor: str | None = None
        self.seen: list[dict[str, Any]] = []
        self.resets = 0
        self.mirror: dict[str, tuple[bool, int, float]] = {}
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def point_at(self, url: str) -> None:
        with self.lock:
            self.url = url

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                with self.lock:
                    url = self.url
                try:
                    with httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=30) as client:
                        self.follow(client)
                except httpx.TransportError:  # Fusion is down: try again shortly
                    self.stop.wait(0.05)
        except BaseException as exc:
            self.error = exc

    def follow(self, client: httpx.Client) -> None:
        if self.cursor is None:
            self.reread(client)
        while not self.stop.is_set():
            params: dict[str, Any] = {"since": self.cursor, "wait": 2, "limit": 500}
            answer = client.get(CHANGES, params=params)
            if answer.status_code == 503:  # still loading after a restart
                self.stop.wait(0.05)
                continue
            assert answer.status_code == 200, answer.text
            page = answer.json()
            if page["reset"]:
                self.resets += 1
                self.reread(client)
                continue
            for change in page["changes"]:
                self.apply(change)
            self.cursor = page["next"]

    def reread(self, client: httpx.Client) -> None:
        """Start here: the position first, then the tree (changes in between come again)."""
        start = client.get(CHANGES)
        assert start.status_code == 200, start.text
        mirror = tree_of(client)
        self.mirror, self.cursor = mirror, start.json()["next"]  # the cursor last: the test watches it

    def apply(self, change: dict[str, Any]) -> None:
        self.seen.append(change)
        if change["op"] == "delete":
            for path in [p for p in self.mirror if is_under(p, change["path"])]:
                del self.mirror[path]
        else:
            self.mirror[change["path"]] = (change["is_dir"], change["size"], change["mtime"])


def last_change(cursor: str) -> int:
    """The change number a cursor stands after."""
    return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().rsplit(".", 1)[1])


def wait_until_completion_decided(url: str) -> None:
    """Until a tick rebuilt the completion rule's figures from the restored tree and decided what
    is due (one tick does both; nothing may be sent meanwhile), then: nothing is complete."""

    def uploads_counted(client: httpx.Client) -> dict[str, Any] | None:
        stats = client.get("/api/v1/views/demo/stats").json()
        return stats if stats["uploads_complete"] + stats["uploads_incomplete"] > 0 else None

    with httpx.Client(base_url=url, headers={"X-API-Key": QUERY_KEY}, timeout=30) as client:
        stats = wait_until(lambda: uploads_counted(client), timeout=30)
        assert stats["uploads_complete"] == 0, "a restart flagged directories no listing covered complete"
        root = client.get("/api/v1/views/demo/tree", params={"path": "/", "depth": 0}).json()
        assert root["complete"] is False


def tree_of(client: httpx.Client) -> dict[str, tuple[bool, int, float]]:
    """Every node of the view, the root included (the feed reports the root's flag changes)."""
    answer = client.get("/api/v1/views/demo/tree", params={"path": "/", "depth": 2, "limit": 10_000})
    assert answer.status_code == 200, answer.text
    nodes: dict[str, tuple[bool, int, float]] = {}
    pending = [answer.json()]
    while pending:
        node = pending.pop()
        nodes[node["path"]] = (node["is_dir"], node["size"], node["mtime"])
        pending.extend(node.get("children", []))
    return nodes


def configure(process: FusionProcess, *, trimmed: bool) -> None:
    config = yaml.safe_load(process.config.read_text())
    if not trimmed:  # the defaults: records kept a day behind the snapshots
        config["journal"] = {"driver": "sqlite", "path": config["journal"]["path"]}
    process.config.write_text(yaml.safe_dump(config))


@pytest.mark.parametrize("trimmed", [False, True], ids=["records-kept", "records-trimmed"])
def test_a_consumer_sees_every_change_once_and_in_order_across_restarts(
    tmp_path: Path, trimmed: bool
) -> None:
    rng = random.Random(7)
    fusion = FusionProcess(tmp_path)
    configure(fusion, trimmed=trimmed)
    consumer = Consumer()
    acked: list[int] = []
    next_batch = 1
    try:
        for round_ in range(4):
            fusion.start()
            consumer.point_at(fusion.url)
            if round_ == 0:
                consumer.start()
                wait_until(lambda: consumer.cursor is not None)  # it starts before the first change
            if round_ == 1:  # the rebuild's first decisions come before the next batch (see the docstring)
                wait_until_completion_decided(fusion.url)
            assert fusion.process is not None
            sender = Sender(
                fusion.url,
                next_batch,
                acked,
                pid=fusion.process.pid,
                kill_after=rng.randrange(5, 25),
                at_ack=rng.random() < 0.5,
                delay=rng.uniform(0, 0.003),
            )
            if round_ % 2:  # SIGKILL in the middle of ingest
                sender.start()
                sender.join(timeout=60)
                assert not sender.is_alive(), "Fusion was not killed"
            else:  # a clean stop after some batches
                sender.kill = lambda: fusion.process.send_signal(signal.SIGTERM)  # type: ignore[method-assign,union-attr]
                sender.at_ack = True
                sender.start()
                sender.join(timeout=60)
            fusion.process.wait(timeout=30)
            next_batch = sender.next + 1
        fusion.start()
        consumer.point_at(fusion.url)
        with httpx.Client(base_url=fusion.url, headers={"X-API-Key": QUERY_KEY}, timeout=30) as client:
            newest = client.get("/api/v1/views/demo/stats").json()["change_feed"]["seq"]
            wait_until(
                lambda: consumer.cursor is not None and last_change(consumer.cursor) >= newest, timeout=60
            )
            assert consumer.error is None, consumer.error
            assert consumer.mirror == tree_of(client)
    finally:
        consumer.stop.set()
        consumer.join(timeout=10)
        if fusion.process is not None and fusion.process.poll() is None:
            fusion.kill()
    assert consumer.error is None, consumer.error

    numbers = [change["seq"] for change in consumer.seen]
    assert numbers == sorted(set(numbers)), "a change came twice or out of order"
    if trimmed:
        return  # after a reset the consumer skips what the tree it re-read already holds
    assert consumer.resets == 0
    assert numbers == list(range(1, len(numbers) + 1)), "a change is missing"
    assert not [change["path"] for change in consumer.seen if change.get("complete")]
    batches: dict[int, list[str]] = {}
    for change in consumer.seen:
        batches.setdefault(int(change["path"].split("/")[1][1:]), []).append(change["path"])
    for n in acked:
        directory = f"/b{n:05d}"
        written = [directory] + [f"{directory}/f{i}" for i in range(FILES_PER_BATCH)]
        assert batches[n][: len(written)] == written, n
        assert batches[n][len(written) :] == [], n  # and no flag transition (nothing turns complete)
    assert len(acked) > 20

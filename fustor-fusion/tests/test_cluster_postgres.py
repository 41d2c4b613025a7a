"""Cluster mode with real ``fustor-fusion serve`` processes on one PostgreSQL journal.

Each test runs two or three nodes on 127.0.0.1 ports, sharing a schema of its own in the test
PostgreSQL (``FUSTOR_TEST_POSTGRES_URL``; skipped without it, a failure under CI), and checks
what an operator and an agent see: the 307 to the owner, a replica answering what the owner
answered given ``min_seq``, a takeover after the owner is SIGKILLed (within the lease plus a few
seconds) or stops cleanly (at once), and a fenced append answered with an error.
"""

from __future__ import annotations

import copy
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fusion_testkit import BASE_CONFIG, INGEST_KEY, QUERY_KEY, event, fusion_command, row, wait_until

from fustor_core.testing import free_port
from fustor_core.testing.postgres import shared_postgres_url

psycopg = pytest.importorskip("psycopg")

LEASE_S = 3.0
RENEW_S = 0.5


@pytest.fixture(scope="module")
def postgres_url() -> str:
    url = shared_postgres_url()
    try:
        import fustor_journal_postgres  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("fustor-journal-postgres is not installed")
    return url


@pytest.fixture
def schema(postgres_url: str) -> Iterator[str]:
    name = "fusion_cluster_" + secrets.token_hex(5)
    yield name
    with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
        admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


class Node:
    """One ``fustor-fusion serve`` process of the cluster."""

    def __init__(self, workdir: Path, node_id: str, url: str, schema: str, **cluster: Any) -> None:
        self.node_id = node_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = workdir / node_id
        self.dir.mkdir(exist_ok=True)
        config = copy.deepcopy(BASE_CONFIG)
        config["datastores"] = {"demo": config["datastores"]["demo"]}
        config["tick_interval_s"] = 1.0
        config["journal"] = {"driver": "postgres", "url": url, "schema": schema}
        config["cluster"] = {
            "node_id": node_id,
            "advertise_url": self.url,
            "lease_s": LEASE_S,
            "renew_interval_s": RENEW_S,
            **cluster,
        }
        self.config_path = self.dir / "fusion.yaml"
        self.config_path.write_text(yaml.safe_dump(config))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        with (self.dir / "fusion.log").open("ab") as log:
            self.process = subprocess.Popen(
                [*fusion_command(), "serve", "--config", str(self.config_path), "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(
            lambda: self.process is not None and (self.process.poll() is not None or self.ready()), timeout=30
        )
        assert self.process.poll() is None, self.log()
        return self

    def log(self) -> str:
        return (self.dir / "fusion.log").read_text(errors="replace")

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def view(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(self.url + "/readyz", timeout=5).json()["views"]["demo"]
        return answer

    def role(self) -> str | None:
        try:
            return str(self.view()["role"])
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def client(self, key: str, **options: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=15, **options)

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def nodes(tmp_path: Path, postgres_url: str, schema: str) -> Iterator[Any]:
    made: list[Node] = []

    def make(node_id: str, **cluster: Any) -> Node:
        node = Node(tmp_path, node_id, postgres_url, schema, **cluster)
        made.append(node)
        return node.start()

    yield make
    for node in made:
        node.stop()


def leader_upload(http: httpx.Client, *names: str) -> httpx.Response:
    """Open a session, scan a few files; the batch's answer."""
    opened = http.post("/api/v1/ingest/sessions", json={"agent_id": "host", "source_uri": "fs:///x"})
    assert opened.status_code == 201, opened.text
    sid = opened.json()["session_id"]
    assert http.post(f"/api/v1/ingest/sessions/{sid}/snapshot/start").status_code == 200
    body = {
        "seq": 1,
        "events": [event("snapshot", "insert", row("/d", is_dir=True), *(row(f"/d/{n}") for n in names))],
    }
    answer = http.post(f"/api/v1/ingest/sessions/{sid}/events", json=body)
    assert answer.status_code == 200, answer.text
    return answer


def tree(node: Node, **params: Any) -> httpx.Response:
    with node.client(QUERY_KEY) as http:
        answer = http.get("/api/v1/views/demo/tree", params={"path": "/", "depth": -1, **params})
    assert answer.status_code == 200, answer.text
    return answer


def at_one_seq(owner: Node, replica: Node) -> tuple[httpx.Response, httpx.Response]:
    """The owner's tree, and the replica's asked with ``min_seq`` = the owner's ``X-Fustor-Seq``,
    at the very same sequence number (the owner's ticks are records too: a replica may already
    be past the owner's answer, then both are asked again)."""

    def attempt() -> tuple[httpx.Response, httpx.Response] | None:
        owner_answer = tree(owner)
        seq = owner_answer.headers["X-Fustor-Seq"]
        answer = tree(replica, min_seq=seq)
        assert int(answer.headers["X-Fustor-Seq"]) >= int(seq)
        return (owner_answer, answer) if answer.headers["X-Fustor-Seq"] == seq else None

    found: tuple[httpx.Response, httpx.Response] = wait_until(attempt, timeout=20)
    return found


def test_ingest_goes_to_the_owner_and_replicas_answer_what_it_answered(nodes: Any) -> None:
    a = nodes("a")
    wait_until(lambda: a.role() == "owner", timeout=10)
    b, c = nodes("b"), nodes("c")
    assert b.role() == "replica" and c.role() == "replica"
    with b.client(INGEST_KEY) as direct:
        refused = direct.post("/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "u"})
    assert refused.status_code == 307 and refused.headers["location"] == a.url + "/api/v1/ingest/sessions"
    assert refused.json()["error"]["owner"] == "a"
    with c.client(INGEST_KEY, follow_redirects=True) as following:  # sent to a, method and body kept
        written = leader_upload(following, "x", "y")
    assert str(written.url).startswith(a.url)
    for replica in (b, c):
        owner_answer, answer = at_one_seq(a, replica)
        assert int(owner_answer.headers["X-Fustor-Seq"]) >= int(written.headers["X-Fustor-Seq"])
        assert answer.json() == owner_answer.json()
    wait_until(lambda: b.view()["lag_records"] == 0, timeout=10)


def test_a_replica_takes_over_after_the_owner_is_sigkilled(nodes: Any) -> None:
    a = nodes("a")
    wait_until(lambda: a.role() == "owner", timeout=10)
    b = nodes("b")
    with a.client(INGEST_KEY) as http:
        seq = int(leader_upload(http, "before").headers["X-Fustor-Seq"])
    tree(b, min_seq=seq)
    a.kill()
    killed = time.monotonic()
    wait_until(lambda: b.role() == "owner", timeout=LEASE_S + 5)
    took = time.monotonic() - killed
    assert took <= LEASE_S + RENEW_S + 2, took  # the lease's end, then the next claim
    with b.client(INGEST_KEY) as http:
        leader_upload(http, "after")  # ingest accepted by the new owner
    paths = [n["path"] for n in tree(b).json()["children"][0]["children"]]
    assert paths == ["/d/after", "/d/before"]  # nothing acknowledged by a was lost


def test_a_clean_stop_hands_the_view_over_at_once(nodes: Any) -> None:
    a = nodes("a", lease_s=60, renew_interval_s=0.5)
    wait_until(lambda: a.role() == "owner", timeout=10)
    b = nodes("b", lease_s=60, renew_interval_s=0.5)
    with a.client(INGEST_KEY) as http:
        leader_upload(http, "kept")
    a.stop()  # last snapshot, then the lease released
    stopped = time.monotonic()
    wait_until(lambda: b.role() == "owner", timeout=10)
    assert time.monotonic() - stopped < 5  # not the 60 s lease
    assert [n["path"] for n in tree(b).json()["children"][0]["children"]] == ["/d/kept"]


def test_an_append_after_another_node_took_the_lease_is_answered_an_error(
    nodes: Any, postgres_url: str, schema: str
) -> None:
    # renewals 100 s apart: only the fence can tell a that it lost the view during this test
    a = nodes("a", lease_s=120, renew_interval_s=100)
    wait_until(lambda: a.role() == "owner", timeout=10)
    with a.client(INGEST_KEY) as http:
        opened = http.post("/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "u"})
        sid = opened.json()["session_id"]
        # another node takes the lease while a still believes it owns the view: a's next append
        # is refused by the fence
        with psycopg.connect(postgres_url.replace("+psycopg", ""), autocommit=True) as admin:
            admin.execute(
                f"UPDATE \"{schema}\".views SET owner = 'ghost', owner_url = 'http://127.0.0.1:9',"
                " epoch = epoch + 1, expires_at = clock_timestamp() + interval '1 hour' WHERE view = 'demo'"
            )
            body = {"seq": 1, "events": [event("realtime", "insert", row("/never-stored"))]}
            sent = time.monotonic()
            answer = http.post(f"/api/v1/ingest/sessions/{sid}/events", json=body)
            assert time.monotonic() - sent < 5  # answered at once, not after retrying
            assert answer.status_code != 200, answer.text  # never "ok" for a record not stored
            assert answer.status_code in (307, 503), answer.text
            stored = admin.execute(
                f"SELECT count(*) FROM \"{schema}\".records WHERE view = 'demo' AND kind = 'event'"
            ).fetchone()
    assert stored == (0,)
    wait_until(lambda: a.role() == "replica", timeout=10)
    wait_until(a.ready, timeout=10)  # rebuilt from the journal: the refused batch is not in it
    assert tree(a).json().get("children", []) == []

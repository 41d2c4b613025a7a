"""Several Fusion nodes sharing one PostgreSQL journal, as real processes on loopback ports.

Each node is ``fustor-fusion serve`` with the same datastores and static keys, ``journal: {driver:
postgres, url, schema}`` on one PostgreSQL schema of its own for the test, and ``cluster:
{node_id, advertise_url, lease_s, ...}`` on its own port. The first node started owns every view;
the others are replicas until it dies or is cut off. What a test does with them::

    cluster = Cluster(tmp_path, journal_url, size=3, lease_s=2).start()
    owner = cluster.wait_owner("demo")          # from the nodes' /readyz ``views``
    cluster.kill(owner)                         # SIGKILL
    new = cluster.wait_owner("demo", exclude=(owner,))
    cluster.restart(owner)                      # same port, same config: comes back as a replica

:class:`OwnershipWatch` polls every node's ``/readyz`` in a thread and records any moment at which
two nodes both said they owned a view; :class:`AckingWriter` pushes numbered rows into a view
through the nodes as a pusher does (307 followed, entry points cycled, a lost session reopened)
and remembers every row a node acknowledged, with the journal sequence that covered it.

A node is the agent tests' ``FusionProcess`` (``fustor-agent/tests/agent_testkit.py``) with a
cluster configuration, so it has their ``listing()``/``matches(root)``/``difference(root)``.
"""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from fustor_core.testing import wait_for
from fustor_core.testing.postgres import shared_postgres_url

AGENT_TESTS = Path(__file__).resolve().parents[2] / "fustor-agent" / "tests"
if str(AGENT_TESTS) not in sys.path:
    sys.path.insert(0, str(AGENT_TESTS))  # the agent tests' process helpers, reused

from agent_testkit import INGEST_KEY, QUERY_KEY, FusionProcess  # noqa: E402

NODE_NAMES = ("fusion-a", "fusion-b", "fusion-c", "fusion-d", "fusion-e")


def keys(datastore: str, first: str = "demo") -> tuple[str, str]:
    """(ingest key, query key) of ``datastore``: the agent tests' keys for the first datastore
    (so their ``AgentProcess`` and ``FusionProcess`` work unchanged), ``{ds}-ingest`` /
    ``{ds}-query`` for the others (a static key belongs to one datastore)."""
    return (INGEST_KEY, QUERY_KEY) if datastore == first else (f"{datastore}-ingest", f"{datastore}-query")


def plain_postgres_url(url: str) -> str:
    """A SQLAlchemy URL (``postgresql+psycopg://``) as libpq/psycopg wants it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


class ClusterNode(FusionProcess):
    """One ``fustor-fusion serve`` of the cluster (see :class:`Cluster`)."""

    def __init__(
        self,
        workdir: Path,
        node_id: str,
        *,
        journal: dict[str, Any],
        cluster: dict[str, Any],
        datastores: Sequence[str],
        settings: dict[str, Any],
        env: dict[str, str] | None = None,
    ) -> None:
        self.node_id = node_id
        self.env = env or {}
        """More environment for the process (``PYTHONPATH`` of a test-only patch, say)."""
        self._journal = journal
        self._cluster = cluster
        self._datastores = list(datastores)
        self._settings = settings
        super().__init__(workdir, datastore=self._datastores[0])
        self.name = node_id

    def configure(self, **settings: Any) -> None:
        """fusion.yaml: the cluster's common settings, this node's id, URL and journal URL."""

        def api_keys(name: str) -> list[dict[str, Any]]:
            ingest, query = keys(name, self._datastores[0])
            return [{"key": ingest, "scopes": ["ingest"]}, {"key": query, "scopes": ["query"]}]

        config = {
            "session_timeout_s": 2.0,
            "heartbeat_interval_s": 0.3,
            "tick_interval_s": 0.2,
            **settings,
            **self._settings,
            "journal": self._journal,
            "cluster": {"node_id": self.node_id, "advertise_url": self.url, **self._cluster},
            "datastores": {name: {"api_keys": api_keys(name)} for name in self._datastores},
        }
        self.config_path.write_text(yaml.safe_dump(config))

    def argv(self) -> list[str]:
        # env(1) execs the service: same pid, so kill() and stop() still reach Fusion itself
        variables = [f"{name}={value}" for name, value in self.env.items()]
        return [*(["env", *variables] if variables else []), *super().argv()]

    def readyz(self) -> dict[str, Any] | None:
        """``/readyz``'s body (200 or 503), or None when the node does not answer."""
        if not self.alive:
            return None
        try:
            answer = self.client.get("/readyz", timeout=2)  # keep-alive: a poll costs ~1 ms
        except httpx.HTTPError:
            return None
        body: dict[str, Any] = answer.json() if answer.content else {}
        body["http_status"] = answer.status_code
        return body

    def view(self, datastore: str) -> dict[str, Any]:
        """This node's ``/readyz`` ``views[datastore]`` (role, seq, lag, owner...); {} when none."""
        body = self.readyz() or {}
        found: dict[str, Any] = (body.get("views") or {}).get(datastore) or {}
        return found

    def role(self, datastore: str) -> str | None:
        return self.view(datastore).get("role")

    def get(self, datastore: str, what: str, **params: Any) -> httpx.Response:
        """A query of this node (redirects not followed: a 307 is the answer)."""
        query_key = keys(datastore, self._datastores[0])[1]
        return self.client.get(
            f"/api/v1/views/{datastore}/{what}", params=params, headers={"X-API-Key": query_key}
        )


@dataclass
class Cluster:
    """N nodes on one PostgreSQL journal schema; everything stops (and the schema goes) in close()."""

    workdir: Path
    journal_url: str
    size: int = 3
    datastores: tuple[str, ...] = ("demo",)
    lease_s: float = 2.0
    renew_interval_s: float | None = None
    min_seq_wait_s: float | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    """More top-level fusion.yaml keys, the same on every node."""
    journal_urls: dict[str, str] = field(default_factory=dict)
    """A node's own way to PostgreSQL (``{"fusion-a": proxy.rewrite(url)}``): a stall proxy."""
    node_env: dict[str, dict[str, str]] = field(default_factory=dict)
    """A node's extra environment, by node id."""
    schema: str = field(default_factory=lambda: f"kit_{uuid.uuid4().hex[:12]}")
    nodes: list[ClusterNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        cluster: dict[str, Any] = {"lease_s": self.lease_s}
        if self.renew_interval_s is not None:
            cluster["renew_interval_s"] = self.renew_interval_s
        if self.min_seq_wait_s is not None:
            cluster["min_seq_wait_s"] = self.min_seq_wait_s
        for node_id in NODE_NAMES[: self.size]:
            journal = {
                "driver": "postgres",
                "url": self.journal_urls.get(node_id, self.journal_url),
                "schema": self.schema,
                "connect_timeout_s": 2,
            }
            self.nodes.append(
                ClusterNode(
                    self.workdir / node_id,
                    node_id,
                    journal=journal,
                    cluster=cluster,
                    datastores=self.datastores,
                    settings=self.settings,
                    env=self.node_env.get(node_id),
                )
            )

    # -- the processes ------------------------------------------------------------------------

    def start(self, *, timeout: float = 60.0) -> Cluster:
        """Start every node in order (the first owns every view) and wait for a first owner."""
        for node in self.nodes:
            node.start(timeout)
        for datastore in self.datastores:
            self.wait_owner(datastore, timeout)
        return self

    def node(self, node_id: str) -> ClusterNode:
        return next(node for node in self.nodes if node.node_id == node_id)

    @property
    def urls(self) -> list[str]:
        """Every node's URL: what an agent is given as its entry points."""
        return [node.url for node in self.nodes]

    @property
    def alive(self) -> list[ClusterNode]:
        return [node for node in self.nodes if node.alive]

    def kill(self, node: ClusterNode) -> None:
        """SIGKILL: no release of the lease, no last snapshot."""
        node.kill()

    def restart(self, node: ClusterNode, timeout: float = 60.0) -> None:
        """Start a stopped or killed node again, same port and config (it returns as a replica
        unless nobody else owns)."""
        if node.alive:
            node.stop()
        node.start(timeout)

    def close(self) -> None:
        for node in self.nodes:
            if node.alive:
                with contextlib.suppress(AssertionError):  # ignored SIGTERM: stop() killed it
                    node.stop()
            node.client.close()
        self.drop_schema()

    def drop_schema(self) -> None:
        import psycopg

        with (
            contextlib.suppress(psycopg.Error),
            psycopg.connect(plain_postgres_url(self.journal_url), autocommit=True, connect_timeout=5) as conn,
        ):
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')

    def logs(self, lines: int = 40) -> str:
        return "\n".join(f"--- {node.node_id} ---\n{node.log_tail(lines)}" for node in self.nodes)

    # -- ownership ----------------------------------------------------------------------------

    def owners(self, datastore: str) -> list[ClusterNode]:
        """The live nodes that say (``/readyz``) they own ``datastore`` now."""
        return [node for node in self.alive if node.role(datastore) == "owner"]

    def owner(self, datastore: str) -> ClusterNode | None:
        """The one node that owns ``datastore``, or None; two at once is an AssertionError."""
        found = self.owners(datastore)
        assert len(found) <= 1, f"two owners of {datastore}: {[n.node_id for n in found]}"
        return found[0] if found else None

    def replicas(self, datastore: str) -> list[ClusterNode]:
        return [node for node in self.alive if node.role(datastore) == "replica"]

    def wait_owner(
        self, datastore: str, timeout: float = 30.0, *, exclude: Sequence[ClusterNode] = ()
    ) -> ClusterNode:
        """Until some live node (not in ``exclude``) owns ``datastore``; that node."""

        def found() -> ClusterNode | None:
            # exactly one: two at once is OwnershipWatch's to judge (a poll of one node after
            # the other cannot tell a hand-over from an overlap)
            owners = self.owners(datastore)
            return owners[0] if len(owners) == 1 and owners[0] not in exclude else None

        try:
            result: ClusterNode = wait_for(found, timeout, f"an owner of {datastore}")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None
        return result

    def wait_applied(
        self, datastore: str, seq: int, timeout: float = 30.0, nodes: Sequence[ClusterNode] | None = None
    ) -> None:
        """Until every given node (default: every live one) has applied journal record ``seq``."""
        targets = list(nodes) if nodes is not None else self.alive
        try:
            wait_for(
                lambda: all(int(node.view(datastore).get("seq") or 0) >= seq for node in targets),
                timeout,
                f"every node to apply {datastore} record {seq}",
            )
        except TimeoutError as exc:
            views = {node.node_id: node.view(datastore) for node in targets}
            raise AssertionError(f"{exc}: {views}\n{self.logs()}") from None


# -- watching ownership -------------------------------------------------------------------------------


@dataclass
class Overlap:
    """Two nodes said they owned one view at once."""

    datastore: str
    first: str
    """Seen owning first..."""
    second: str
    """...and this one seen owning before ``first`` was seen letting go."""
    at: float


class OwnershipWatch:
    """Polls every node's ``/readyz`` and keeps, per view, who said they owned it and when.

    Each round polls the node last seen owning *last*: if another node already said it owns the
    view earlier in the round, and the previous owner still says so afterwards, both held it at
    the same moment — an overlap, not a question of polling order."""

    def __init__(self, cluster: Cluster, datastores: Sequence[str], interval_s: float = 0.02) -> None:
        self.cluster = cluster
        self.datastores = list(datastores)
        self.interval_s = interval_s
        self.overlaps: list[Overlap] = []
        self.owned_since: dict[str, list[tuple[float, str]]] = {ds: [] for ds in self.datastores}
        """Per view: (time first seen, node) at every change of the owner seen."""
        self.last_owner: dict[str, str | None] = dict.fromkeys(self.datastores)
        self.rounds = 0
        self.unanswered: dict[str, int] = {}
        """Polls a live node did not answer (its claims, if any, went unseen then)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> OwnershipWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def owner_at(self, datastore: str, moment: float) -> str | None:
        """The owner seen at ``moment`` (the last change seen before it)."""
        owner = None
        for since, node in self.owned_since[datastore]:
            if since <= moment:
                owner = node
        return owner

    def first_seen(self, datastore: str, node_id: str, after: float = 0.0) -> float | None:
        """When ``node_id`` was first seen owning ``datastore`` after ``after``."""
        return next((t for t, n in self.owned_since[datastore] if n == node_id and t >= after), None)

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            for datastore in self.datastores:
                self._round(datastore)
            self.rounds += 1

    def _round(self, datastore: str) -> None:
        previous = self.last_owner[datastore]
        order = sorted(self.cluster.nodes, key=lambda node: node.node_id == previous)
        claimed: list[tuple[float, str]] = []
        for node in order:
            body = node.readyz()
            if body is None and node.alive:
                self.unanswered[node.node_id] = self.unanswered.get(node.node_id, 0) + 1
            role = ((body or {}).get("views") or {}).get(datastore, {}).get("role")
            if role == "owner":
                claimed.append((time.time(), node.node_id))
        newcomers = [(t, n) for t, n in claimed if n != previous]
        still_previous = any(n == previous for _, n in claimed)
        if newcomers and still_previous:
            self.overlaps.append(Overlap(datastore, previous or "", newcomers[0][1], newcomers[0][0]))
        if len(newcomers) > 1:
            self.overlaps.append(Overlap(datastore, newcomers[0][1], newcomers[1][1], newcomers[1][0]))
        if newcomers:
            at, node_id = newcomers[0]
            self.owned_since[datastore].append((at, node_id))
            self.last_owner[datastore] = node_id
        elif not claimed and previous is not None:
            self.owned_since[datastore].append((time.time(), ""))
            self.last_owner[datastore] = None


# -- a client that remembers what was acknowledged ---------------------------------------------------


@dataclass
class Batch:
    """One batch the writer sent."""

    number: int
    paths: list[str]
    started: float
    node_url: str
    """Where it was first sent (before any redirect)."""
    event_type: str = "insert"
    acked_by: str | None = None
    """The URL that answered 200, None when no node acknowledged it."""
    seq: int | None = None
    """``X-Fustor-Seq`` of the acknowledgement: the durable record that covers the batch."""
    acked_at: float | None = None
    error: str | None = None


class AckingWriter:
    """Pushes batches of new rows (``/{prefix}/b{number}-{i}``, never re-sent) into one datastore
    through the cluster's nodes, as a pusher does: 307 followed (method and body kept), the node
    it was sent to kept, the entry points tried in turn when that one stops answering (or says
    503 ``no_owner``), a session the node does not know (404) reopened. Every acknowledged batch
    is remembered with the sequence number that covered it (:attr:`acked`)."""

    def __init__(
        self,
        entry_urls: Sequence[str],
        *,
        ingest_key: str = INGEST_KEY,
        prefix: str = "w",
        rows_per_batch: int = 20,
        timeout_s: float = 5.0,
        agent_id: str = "acking-writer",
    ) -> None:
        self.entry_urls = list(entry_urls)
        self.prefix = prefix
        self.rows_per_batch = rows_per_batch
        self.agent_id = agent_id
        self.http = httpx.Client(headers={"X-API-Key": ingest_key}, timeout=timeout_s, follow_redirects=True)
        self.batches: list[Batch] = []
        self._entries = itertools.cycle(self.entry_urls)
        self.base = next(self._entries)
        self.session: str | None = None
        self.session_seq = 0
        self.sessions_opened = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.pause_s = 0.0

    @property
    def acked(self) -> list[Batch]:
        return [batch for batch in self.batches if batch.acked_by is not None]

    @property
    def acked_paths(self) -> set[str]:
        """The paths acknowledged as inserted (and not acknowledged as deleted since)."""
        present: set[str] = set()
        for batch in self.acked:
            if batch.event_type == "delete":
                present.difference_update(batch.paths)
            else:
                present.update(batch.paths)
        return present

    def explain_lost(self, present: set[str]) -> str:
        """The acknowledged batches with rows missing from ``present``: number, who acknowledged
        it, when, with which sequence (for a failure message)."""
        lost = self.acked_paths - present
        batches = [b for b in self.acked if lost.intersection(b.paths)]
        return "; ".join(
            f"batch {b.number} ({b.event_type}) acked by {b.acked_by} seq {b.seq} at {b.started:.3f}"
            for b in batches[:10]
        ) + (f" (+{len(batches) - 10} more)" if len(batches) > 10 else "")

    def longest_pause(self, since: float) -> float:
        """The longest time without an acknowledgement after ``since`` (seconds)."""
        times = [since, *sorted(b.acked_at for b in self.acked if b.acked_at and b.acked_at > since)]
        return max((later - earlier for earlier, later in itertools.pairwise(times)), default=0.0)

    @property
    def max_acked_seq(self) -> int:
        return max((batch.seq or 0 for batch in self.acked), default=0)

    def push_one(self, event_type: str = "insert", paths: Sequence[str] | None = None) -> Batch:
        """Send the next batch once (no re-send); the batch, acknowledged or not. By default new
        rows are inserted; ``event_type`` ``update``/``delete`` with ``paths`` changes old ones
        (their size becomes the batch's number)."""
        number = len(self.batches) + 1
        if paths is None:
            paths = [f"/{self.prefix}{number:06d}-{i:02d}" for i in range(self.rows_per_batch)]
        batch = Batch(number, list(paths), time.time(), self.base, event_type)
        self.batches.append(batch)
        try:
            if self.session is None:
                self._open()
            self.session_seq += 1
            body = {
                "seq": self.session_seq,
                "events": [
                    {
                        "message_source": "realtime",
                        "event_type": event_type,
                        "index": int(time.time() * 1000),
                        "rows": [
                            {"path": p, "is_dir": False, "size": number, "mtime": 1_700_000_000.0}
                            for p in paths
                        ],
                    }
                ],
            }
            answer = self.http.post(f"{self.base}/api/v1/ingest/sessions/{self.session}/events", json=body)
            self._follow(answer)
            if answer.status_code == 200:
                batch.acked_by = self.base
                batch.acked_at = time.time()
                batch.seq = int(answer.headers["X-Fustor-Seq"])
            else:
                batch.error = f"{answer.status_code} {answer.text[:200]}"
                if answer.status_code == 404:
                    self.session = None  # a node that does not know the session: reopen
                elif answer.status_code == 503:
                    self._next_entry()
        except httpx.HTTPError as exc:
            batch.error = repr(exc)
            self._next_entry()
        return batch

    def _open(self) -> None:
        answer = self.http.post(f"{self.base}/api/v1/ingest/sessions", json={"agent_id": self.agent_id})
        self._follow(answer)
        if not answer.is_success:
            raise httpx.HTTPError(f"session open: {answer.status_code} {answer.text[:200]}")
        self.session = answer.json()["session_id"]
        self.session_seq = 0
        self.sessions_opened += 1

    def _follow(self, answer: httpx.Response) -> None:
        """Keep sending to the node a redirect led to."""
        if answer.history:
            final = answer.url
            self.base = f"{final.scheme}://{final.host}:{final.port}"
            if any(r.status_code == 307 for r in answer.history) and answer.status_code == 404:
                self.session = None

    def _next_entry(self) -> None:
        self.base = next(self._entries)
        self.session = None

    # -- in the background ----------------------------------------------------------------

    def start(self, pause_s: float = 0.0) -> AckingWriter:
        """Push batches one after the other in a thread (``pause_s`` between them) until stop()."""
        self.pause_s = pause_s
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            batch = self.push_one()
            if batch.acked_by is None:
                self._stop.wait(0.05)  # nobody took it: do not spin while the cluster recovers
            elif self.pause_s:
                self._stop.wait(self.pause_s)

    def wait_acked(self, count: int, timeout: float) -> None:
        """Until ``count`` more batches than now are acknowledged."""
        target = len(self.acked) + count
        wait_for(lambda: len(self.acked) >= target, timeout, f"{count} acknowledged batches")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        self._stop.clear()

    def close(self) -> None:
        self.stop()
        self.http.close()


def view_paths(node: ClusterNode, datastore: str, *, min_seq: int | None = None) -> set[str]:
    """The paths of the entries right under ``/`` in ``node``'s view (what the writer wrote),
    every page of them (``X-Next-Cursor``)."""
    params: dict[str, Any] = {"path": "/", "depth": 1, "limit": 10_000}
    if min_seq is not None:
        params["min_seq"] = min_seq
    paths: set[str] = set()
    while True:
        answer = node.get(datastore, "tree", **params)
        answer.raise_for_status()
        paths.update(child["path"] for child in answer.json().get("children", []))
        cursor = answer.headers.get("X-Next-Cursor")
        if not cursor:
            return paths
        params["cursor"] = cursor


@pytest.fixture
def make_cluster(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Cluster]]:
    """``make_cluster(journal_url=..., size=3, lease_s=2, ...)`` builds and starts a
    :class:`Cluster` (the shared test PostgreSQL unless ``journal_url`` is given); every one is
    closed at the end, its nodes' logs printed when the test failed."""
    made: list[Cluster] = []

    def build(*, start: bool = True, **options: Any) -> Cluster:
        options.setdefault("journal_url", shared_postgres_url())
        cluster = Cluster(tmp_path / f"cluster-{len(made)}", **options)
        made.append(cluster)
        return cluster.start() if start else cluster

    yield build
    failed = getattr(request.node, "rep_call", None)
    for cluster in made:
        if failed is not None and failed.failed:
            print(cluster.logs(80))
        cluster.close()

"""Cluster mode on an in-process shared journal: roles, 307/503, X-Fustor-Seq and min_seq,
replicas following the owner, takeover, step-down and fencing.

Each node is a real Fusion app served on its own 127.0.0.1 port; the nodes of a test share a
:class:`~shared_journal_fake.SharedStores` (the same promises as the PostgreSQL plugin: lease by
the store's clock, epoch, fenced appends, commit wake-ups), which lets a test cut one node off
the store or move the lease at will. The same scenarios on PostgreSQL with real processes are in
``test_cluster_postgres.py``.
"""

from __future__ import annotations

import copy
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import uvicorn
from fusion_testkit import BASE_CONFIG, Fusion, error_of, event, row, serve_app, wait_until
from shared_journal_fake import STORES, FakeSharedJournalPlugin, SharedStores
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fustor_core.errors import ConfigError
from fustor_core.plugins import get_plugin_manager
from fustor_core.testing import free_port
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config

PLUGINS = ["storage-memory", "merge-mtime", "merge-tombstone", "merge-suspect", "merge-blindspot"]
LEASE_S = 1.5
RENEW_S = 0.2


class Cluster:
    """Nodes over one set of shared stores."""

    def __init__(self, stack: ExitStack) -> None:
        self.name = "c-" + secrets.token_hex(4)
        self.stores = STORES[self.name] = SharedStores()
        self._stack = stack

    def config(
        self,
        node: str,
        port: int,
        journal: dict[str, Any] | None = None,
        registry: dict[str, Any] | None = None,
        **cluster: Any,
    ) -> dict[str, Any]:
        data = copy.deepcopy(BASE_CONFIG)
        if registry is not None:
            data["registry"] = registry
        data["journal"] = {"driver": "fake-shared", "store": self.name, **(journal or {})}
        data["tick_interval_s"] = 0.5  # ticks are records: fewer keep the sequence numbers readable
        data["cluster"] = {
            "node_id": node,
            "advertise_url": f"http://127.0.0.1:{port}",
            "lease_s": LEASE_S,
            "renew_interval_s": RENEW_S,
            **cluster,
        }
        return data

    def start(
        self,
        node: str,
        journal: dict[str, Any] | None = None,
        registry: dict[str, Any] | None = None,
        **cluster: Any,
    ) -> Fusion:
        port = free_port()
        pm = get_plugin_manager(only=PLUGINS, exclude=(), extra=(FakeSharedJournalPlugin(node),))
        app = create_app(
            parse_fusion_config(self.config(node, port, journal, registry, **cluster)), plugin_manager=pm
        )
        own = ExitStack()
        url = own.enter_context(serve_app(app, port))
        fusion = Fusion(url=url, app=app, clock=None, stopper=own)
        own.callback(fusion.close)
        self._stack.callback(own.close)
        wait_until(lambda: fusion.client().get("/readyz").status_code == 200, timeout=20)
        return fusion


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    with ExitStack() as stack:
        made = Cluster(stack)
        yield made
        STORES.pop(made.name, None)


def view(fusion: Fusion, datastore: str = "demo") -> dict[str, Any]:
    views: dict[str, Any] = fusion.client().get("/readyz").json()["views"]
    answer: dict[str, Any] = views[datastore]
    return answer


def role_of(fusion: Fusion, datastore: str = "demo") -> str:
    """The view's role on the node (read in-process: ``/readyz`` is 503 while a view is rebuilt)."""
    return str(fusion.service.datastores[datastore].role)


def wait_role(fusion: Fusion, role: str, timeout: float = 10.0) -> None:
    wait_until(lambda: role_of(fusion) == role, timeout=timeout)


def owner_and_replica(cluster: Cluster) -> tuple[Fusion, Fusion]:
    a = cluster.start("a")
    wait_role(a, "owner")
    b = cluster.start("b")
    wait_role(b, "replica")
    return a, b


def fill(fusion: Fusion, *names: str) -> httpx.Response:
    """A leader's snapshot of a few files through ``fusion``; the answer of the batch."""
    agent = fusion.agent().open()
    agent.signal_ok("snapshot/start")
    answer = agent.send(
        event("snapshot", "insert", row("/d", is_dir=True), *(row(f"/d/{n}", size=3) for n in names))
    )
    assert answer.status_code == 200, answer.text
    return answer


def tree_of(fusion: Fusion, **params: Any) -> httpx.Response:
    answer = fusion.query().get("tree", path="/", depth=-1, **params)
    assert answer.status_code == 200, answer.text
    return answer


def test_cluster_needs_a_journal_several_nodes_can_share(cluster: Cluster) -> None:
    for journal in ({"driver": "none"}, {"driver": "sqlite", "path": "/nonexistent/never-opened"}):
        data = cluster.config("a", free_port())
        data["journal"] = journal
        pm = get_plugin_manager(only=["storage-memory", "journal-sqlite"], exclude=())
        with pytest.raises(ConfigError) as refused:
            create_app(parse_fusion_config(data), plugin_manager=pm)
        assert refused.value.message == (
            f"cluster: the journal driver {journal['driver']!r} cannot be shared between nodes;"
            " use driver: postgres"
        )


def test_cluster_section_defaults_and_checks() -> None:
    data = copy.deepcopy(BASE_CONFIG)
    data["cluster"] = {"node_id": "fusion-a", "advertise_url": "http://127.0.0.1:8102/"}
    cluster = parse_fusion_config(data).cluster
    assert cluster is not None
    assert (cluster.lease_s, cluster.renew_interval_s, cluster.min_seq_wait_s) == (10, 2.5, 10)
    assert cluster.advertise_url == "http://127.0.0.1:8102"  # Location = this + path
    for bad, key in (
        ({"node_id": "a b"}, "node_id"),
        ({"renew_interval_s": 10}, "renew_interval_s"),
        ({"advertise_url": "127.0.0.1:8102"}, "advertise_url"),
        ({"leader": True}, "leader"),
    ):
        data["cluster"] = {"node_id": "fusion-a", "advertise_url": "http://h:1", **bad}
        with pytest.raises(ConfigError, match=key):
            parse_fusion_config(data)


def test_ingest_on_a_replica_is_sent_to_the_owner(cluster: Cluster) -> None:
    a, b = owner_and_replica(cluster)
    http = b.client("ingest-secret")
    answer = http.post("/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "fs:///x"})
    assert answer.status_code == 307
    assert answer.headers["location"] == f"{a.url}/api/v1/ingest/sessions"
    assert answer.json()["error"] == {
        "code": "not_owner",
        "message": answer.json()["error"]["message"],
        "owner": "a",
        "owner_url": a.url,
    }
    # a client that follows redirects (method and body kept) opens its session on the owner
    followed = b.client("ingest-secret")
    followed.follow_redirects = True
    opened = followed.post("/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "fs:///x"})
    assert opened.status_code == 201 and str(opened.url).startswith(a.url)
    assert a.query().ok("stats")["sessions"] == 1 and b.query().ok("stats")["sessions"] == 0
    # fresh=true needs the leader agent, which talks to the owner
    fresh = b.query().get("tree", path="/", fresh="true")
    assert fresh.status_code == 307 and fresh.headers["location"].startswith(
        a.url + "/api/v1/views/demo/tree?"
    )


def test_a_replica_answers_what_the_owner_answered_given_min_seq(cluster: Cluster) -> None:
    a, b = owner_and_replica(cluster)
    written = fill(a, "x", "y", "z")
    seq = int(written.headers["X-Fustor-Seq"])
    assert seq >= 3  # the leader change, the signal and the batch are records (and ticks)

    def at_one_seq() -> tuple[httpx.Response, httpx.Response] | None:
        owner_tree = tree_of(a)
        owner_seq = owner_tree.headers["X-Fustor-Seq"]
        replica_tree = tree_of(b, min_seq=owner_seq)
        assert int(replica_tree.headers["X-Fustor-Seq"]) >= int(owner_seq)
        # the owner's ticks are records too: b may be past the owner's answer already
        return (owner_tree, replica_tree) if replica_tree.headers["X-Fustor-Seq"] == owner_seq else None

    owner_tree, replica_tree = wait_until(at_one_seq)
    assert int(owner_tree.headers["X-Fustor-Seq"]) >= seq
    assert replica_tree.json() == owner_tree.json()
    assert b.query().ok("stats", min_seq=seq)["files"] == 3
    stats = b.query().ok("stats")["cluster"]
    assert stats["role"] == "replica" and stats["owner"] == "a" and stats["owner_url"] == a.url
    wait_until(lambda: view(b)["lag_records"] == 0 and view(b)["seq"] == view(b)["journal_seq"])
    assert view(b)["lag_s"] == 0 and view(b)["owner"] == "a"
    owner = view(a)
    assert owner == {**owner, "role": "owner", "owner": "a", "owner_url": a.url, "lag_records": 0}
    # what a node reports to the Registry: the views it owns, and those it serves
    wait_until(lambda: role_of(a, "other") == "owner" and role_of(b, "other") == "replica")
    assert a.service.cluster_views() == (["demo", "other"], ["demo", "other"])
    assert b.service.cluster_views() == ([], ["demo", "other"])
    scraped = b.client().get("/metrics").text
    assert 'fustor_cluster_view_owner{datastore="demo"} 0.0' in scraped
    assert 'fustor_cluster_lag_records{datastore="demo"}' in scraped
    assert 'fustor_cluster_view_owner{datastore="demo"} 1.0' in a.client().get("/metrics").text


def test_min_seq_is_bounded_and_checked(cluster: Cluster) -> None:
    a = cluster.start("a", min_seq_wait_s=0.3)
    wait_role(a, "owner")
    late = a.query().get("stats", min_seq=10**9)
    assert error_of(late)[:2] == (504, "min_seq_timeout")
    for bad in ("-1", "x", "1.5", "99999999999999999999"):
        assert error_of(a.query().get("stats", min_seq=bad))[0] == 422, bad


def test_a_replica_serves_the_change_feed(cluster: Cluster) -> None:
    a, b = owner_and_replica(cluster)
    start = b.query().ok("changes")["next"]
    fill(a, "one", "two")
    page = b.query().ok("changes", since=start, wait=5)
    paths = [change["path"] for change in page["changes"]]
    assert paths == ["/d", "/d/one", "/d/two"], page
    assert page == a.query().ok("changes", since=start)  # the same entries and cursor as the owner's


def test_a_replica_behind_records_already_trimmed_starts_again_from_the_snapshot(cluster: Cluster) -> None:
    # the owner snapshots after every input and trims right behind each snapshot
    eager = {"snapshot_every_rows": 1, "snapshot_tree_ratio": 0, "retention_s": 0}
    a = cluster.start("a", journal=eager)
    wait_role(a, "owner")
    b = cluster.start("b", journal=eager)
    wait_role(b, "replica")
    store = cluster.stores["demo"]
    store.cut("b")  # b falls behind
    agent = a.agent().open()
    agent.signal_ok("snapshot/start")
    for n in range(5):
        agent.send_ok(event("snapshot", "insert", row(f"/f{n}", size=n)))
    seq = int(tree_of(a).headers["X-Fustor-Seq"])
    wait_until(lambda: min(store.records, default=seq) > view(b)["seq"] + 1)  # b's next record is gone
    store.mend("b")
    assert tree_of(b, min_seq=seq).json() == tree_of(a).json()
    assert b.query().ok("stats")["files"] == 5


def test_a_clean_stop_hands_the_view_over_at_once(cluster: Cluster) -> None:
    a = cluster.start("a", lease_s=60, renew_interval_s=0.3)
    wait_role(a, "owner")
    b = cluster.start("b", lease_s=60, renew_interval_s=0.3)
    wait_role(b, "replica")
    seq = int(fill(a, "kept").headers["X-Fustor-Seq"])
    a.stop()  # flush, last snapshot, release
    wait_role(b, "owner", timeout=5)  # far less than the 60 s lease
    assert tree_of(b).json()["children"][0]["children"][0]["path"] == "/d/kept"
    assert view(b)["seq"] >= seq
    assert b.query().ok("stats")["cluster"]["takeovers"] == 1
    fill(b, "new")  # accepted by the new owner
    assert cluster.stores["demo"].snapshots, "the stopping owner wrote its last snapshot"


def test_a_new_owner_counts_rows_since_the_previous_owners_snapshot_not_since_it_followed(
    cluster: Cluster,
) -> None:
    a = cluster.start("a", lease_s=60, renew_interval_s=0.3)
    wait_role(a, "owner")
    b = cluster.start("b", lease_s=60, renew_interval_s=0.3)
    wait_role(b, "replica")
    names = [f"f{n}" for n in range(200)]
    seq = int(fill(a, *names).headers["X-Fustor-Seq"])
    tree_of(b, min_seq=seq)  # b followed the 200 rows
    a.stop()  # its last snapshot covers them
    wait_role(b, "owner", timeout=5)
    # only b's own ticks since the takeover are outside that snapshot: the first write after a
    # takeover must not dump the whole view again because of rows the replica had followed
    assert b.query().ok("stats")["journal"]["rows_since_snapshot"] < len(names)


def test_an_owner_cut_off_steps_down_and_a_replica_takes_over(cluster: Cluster) -> None:
    a, b = owner_and_replica(cluster)
    agent = a.agent().open()
    agent.signal_ok("snapshot/start")
    agent.send_ok(event("snapshot", "insert", row("/d", is_dir=True), row("/d/before", size=1)))
    store = cluster.stores["demo"]
    store.cut("a")  # a can no longer reach the store: it cannot renew, nor append
    wait_role(a, "replica", timeout=LEASE_S + 3)
    # a stepped down before its lease ran out in the store, so b never overlapped it
    wait_role(b, "owner", timeout=LEASE_S + 3)
    refused = agent.send(event("realtime", "update", row("/d/after", size=2)))
    assert refused.status_code in (307, 404, 503), refused.text  # never accepted by a non-owner
    # a's view holds inputs (its ticks) it applied but could not store: it is rebuilt from the
    # journal before it serves again, so meanwhile it is not ready
    assert error_of(a.client().get("/readyz"))[:2] == (503, "not_ready")
    store.mend("a")
    wait_until(lambda: a.client().get("/readyz").status_code == 200 and view(a)["owner"] == "b")
    moved = a.client("ingest-secret").post(
        "/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "u"}
    )
    assert moved.status_code == 307 and moved.headers["location"].startswith(b.url)
    assert b.query().ok("stats")["files"] == 1
    fill(b, "later")
    tree_of(a, min_seq=view(b)["seq"])
    assert a.query().ok("stats")["files"] == 2


def test_no_owner_is_a_503_with_retry_after(cluster: Cluster) -> None:
    a, b = owner_and_replica(cluster)
    store = cluster.stores["demo"]
    store.cut("b")  # b keeps the lease it last saw, until that runs out
    a.stop()  # releases the lease: nobody owns the view, and b cannot claim it
    refused = wait_until(
        lambda: (
            r
            if (
                r := b.client("ingest-secret").post(
                    "/api/v1/ingest/sessions", json={"agent_id": "h", "source_uri": "u"}
                )
            ).status_code
            == 503
            else None
        ),
        timeout=LEASE_S + 3,
    )
    assert error_of(refused)[1] == "no_owner" and refused.headers["retry-after"] == "1"
    store.mend("b")
    wait_role(b, "owner", timeout=5)


def test_an_append_refused_by_the_fence_answers_an_error_and_the_view_is_rebuilt(cluster: Cluster) -> None:
    # renewals 30 s apart: only the fence can tell a that it lost the view during this test
    a = cluster.start("a", lease_s=60, renew_interval_s=30)
    wait_role(a, "owner")
    b = cluster.start("b")
    wait_role(b, "replica")
    agent = a.agent().open()
    agent.signal_ok("snapshot/start")
    agent.send_ok(event("snapshot", "insert", row("/d", is_dir=True), row("/d/stored", size=1)))
    store = cluster.stores["demo"]
    # another node took the lease while a still believes it owns the view (a stall of a's renewals)
    store.steal("ghost", "http://127.0.0.1:9")
    sent = time.monotonic()
    answer = agent.send(event("snapshot", "insert", row("/d/never-stored", size=2)))
    assert time.monotonic() - sent < 5  # answered at once, not after retrying
    assert answer.status_code != 200, answer.text  # never "ok" for a record that was not stored
    assert store.appends_refused >= 1
    wait_role(a, "replica", timeout=5)
    stored = [r.kind for r in a.app.state.fusion.datastores["demo"].durability.journal.read(0, 100)]
    assert stored.count("event") == 1
    # a applied the refused batch before it was refused: its view was rebuilt from the journal
    wait_until(lambda: a.query().get("stats").status_code == 200 and a.query().ok("stats")["files"] == 1)
    assert [n["path"] for n in tree_of(a).json()["children"][0]["children"]] == ["/d/stored"]
    assert b.query().ok("stats")["files"] == 1


class StubRegistry:
    """The two calls a clustered Fusion makes to its Registry: the datastore list (empty: the
    static ones are served) and the node's report, kept for the test to read."""

    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []
        self.url = ""

        async def datastores(request: Request) -> Response:
            return JSONResponse({"datastores": []})

        async def report(request: Request) -> Response:
            self.reports.append({"node_id": request.path_params["node_id"], **(await request.json())})
            return JSONResponse({})

        self.app = Starlette(
            routes=[
                Route("/api/v1/service/datastores", datastores),
                Route("/api/v1/cluster/nodes/{node_id}", report, methods=["PUT"]),
            ]
        )


@pytest.fixture
def registry() -> Iterator[StubRegistry]:
    stub = StubRegistry()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(stub.app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started)
    stub.url = f"http://127.0.0.1:{port}"
    yield stub
    server.should_exit = True
    thread.join(10)


def test_a_node_reports_the_views_it_owns_to_the_registry_at_once_after_a_takeover(
    cluster: Cluster, registry: StubRegistry
) -> None:
    stub = registry
    link = {"url": stub.url, "service_token": "t", "refresh_interval_s": 60, "report_interval_s": 60}
    a = cluster.start("a", registry=link)
    wait_role(a, "owner")
    b = cluster.start("b", registry=link)
    wait_role(b, "replica")
    wait_until(lambda: any(r["node_id"] == "b" for r in stub.reports))
    first_b = next(r for r in stub.reports if r["node_id"] == "b")
    assert first_b["owned"] == [] and first_b["advertise_url"] == b.url
    a.stop()
    wait_role(b, "owner")
    # reported at the next tick, not after the 60 s report period
    wait_until(lambda: any(r["node_id"] == "b" and "demo" in r["owned"] for r in stub.reports), timeout=5)


def test_a_single_node_stamps_its_answers_too(start_fusion: Any) -> None:
    fusion = start_fusion(tick_interval_s=3600)  # no tick record meanwhile
    agent = fusion.agent().open()
    answer = agent.send(event("realtime", "insert", row("/x", size=1)))
    assert int(answer.headers["X-Fustor-Seq"]) == 2  # the leader change, then the batch
    assert fusion.query().get("tree", path="/").headers["X-Fustor-Seq"] == "2"
    assert fusion.query().ok("stats", min_seq=2)["cluster"]["role"] == "single"

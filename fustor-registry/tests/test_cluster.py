"""The cluster's nodes in the Registry: reports, placement, and where an agent is sent — over the
API, the admin CLI (real subprocesses) and Fusion's own client against a real server, on SQLite
and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from registry_testkit import (
    ANONYMOUS,
    FAST_HASHING,
    SECRET_KEY,
    SERVICE,
    SERVICE_TOKEN,
    Actor,
    Harness,
    serve,
)
from sqlalchemy import create_engine, text, update

from fustor_fusion.config import RegistryLinkConfig
from fustor_fusion.registry_keys import RegistryKeyChecker
from fustor_fusion.registry_link import ClusterNode, RegistryLink
from fustor_registry.api import create_app
from fustor_registry.models import FusionNode, utcnow

A_URL, B_URL, STATIC_URL = "http://127.0.0.1:18102", "http://127.0.0.1:18202", "http://static.example:8102"


def report(
    harness: Harness, node_id: str, url: str, owned: tuple[str, ...] = (), serving: tuple[str, ...] = ()
) -> Any:
    body = {"advertise_url": url, "owned": list(owned), "serving": list(serving)}
    return harness.ok(SERVICE, "PUT", f"/cluster/nodes/{node_id}", body)


def age(harness: Harness, node_id: str, seconds: float) -> None:
    """Make a node's last report ``seconds`` old (as if it had gone silent that long ago)."""
    engine = create_engine(harness.url)
    with engine.begin() as connection:
        connection.execute(
            update(FusionNode)
            .where(FusionNode.node_id == node_id)
            .values(last_seen=utcnow() - timedelta(seconds=seconds))
        )
    engine.dispose()


def place(harness: Harness, datastore: str, *nodes: str) -> None:
    from fustor_registry.services import cluster, datastores

    harness.registry.run(
        lambda session: cluster.place_datastore(
            session, datastores.find_datastore(session, datastore), list(nodes)
        )
    )


@pytest.fixture
def admin(harness: Harness) -> Actor:
    return harness.user("root", role="admin")


def test_a_node_reports_itself_and_an_admin_lists_the_nodes(harness: Harness, admin: Actor) -> None:
    harness.ok(admin, "POST", "/datastores", {"name": "demo"}, 201)
    answer = report(harness, "fusion-a", A_URL + "/", owned=("demo",), serving=("demo", "other", "demo"))
    assert answer | {"last_seen": None} == {
        "node_id": "fusion-a",
        "advertise_url": A_URL,
        "last_seen": None,
        "alive": True,
        "owned": ["demo"],
        "serving": ["demo", "other"],
        "placed": [],
    }
    report(harness, "fusion-a", A_URL, owned=(), serving=("demo",))  # a later report replaces the last
    place(harness, "demo", "fusion-a", "fusion-c")
    nodes = harness.ok(admin, "GET", "/cluster/nodes")["nodes"]
    assert [
        (n["node_id"], n["advertise_url"], n["alive"], n["owned"], n["serving"], n["placed"]) for n in nodes
    ] == [
        ("fusion-a", A_URL, True, [], ["demo"], ["demo"]),
        ("fusion-c", None, False, [], [], ["demo"]),  # placed on, never heard from
    ]
    assert nodes[0]["last_seen"].endswith("Z") and nodes[1]["last_seen"] is None
    assert [row[1] for row in harness.rows()["fusion_nodes"]] == ["fusion-a"]


def test_only_the_service_token_reports_and_only_admins_list(harness: Harness, admin: Actor) -> None:
    body = {"advertise_url": A_URL}
    plain = harness.user("plain")
    for actor in (ANONYMOUS, plain, admin):
        assert harness.call(actor, "PUT", "/cluster/nodes/a", body).status_code == 401, actor.name
    assert harness.call(ANONYMOUS, "GET", "/cluster/nodes").status_code == 401
    assert harness.call(SERVICE, "GET", "/cluster/nodes").status_code == 401
    assert harness.call(plain, "GET", "/cluster/nodes").status_code == 403
    assert harness.rows()["fusion_nodes"] == []


@pytest.mark.parametrize(
    ("node_id", "body", "status", "message"),
    [
        ("a", {"advertise_url": "ftp://a"}, 422, "advertise_url"),
        ("a", {"advertise_url": A_URL, "owned": ["not a name"]}, 422, "owned.0"),
        ("a", {"advertise_url": A_URL, "serving": "demo"}, 422, "serving"),
        ("a", {"advertise_url": A_URL, "extra": 1}, 422, "extra"),
        ("bad$id", {"advertise_url": A_URL}, 404, "no node"),
        ("x" * 65, {"advertise_url": A_URL}, 404, "no node"),
    ],
)
def test_a_bad_report_is_refused_and_stores_nothing(
    harness: Harness, node_id: str, body: dict[str, Any], status: int, message: str
) -> None:
    answer = harness.call(SERVICE, "PUT", f"/cluster/nodes/{node_id}", body)
    assert answer.status_code == status, answer.text
    assert message in answer.json()["error"]["message"]
    assert harness.rows()["fusion_nodes"] == []


def test_alive_means_reported_within_node_timeout(start_harness: Any) -> None:
    harness = start_harness(node_timeout_s=5)
    admin = harness.user("root", role="admin")
    report(harness, "a", A_URL)
    report(harness, "b", B_URL)
    age(harness, "b", 6)
    age(harness, "a", 4)
    alive = {n["node_id"]: n["alive"] for n in harness.ok(admin, "GET", "/cluster/nodes")["nodes"]}
    assert alive == {"a": True, "b": False}


def test_an_agent_is_sent_to_the_live_owner_else_a_live_placed_node_else_the_static_url(
    harness: Harness, admin: Actor
) -> None:
    harness.ok(admin, "POST", "/datastores", {"name": "demo", "fusion_url": STATIC_URL}, 201)
    key = harness.ok(admin, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]

    def sent_to() -> str | None:
        answer = harness.client.get("/api/v1/agent/bootstrap", headers={"X-API-Key": key})
        assert answer.status_code == 200, answer.text
        return answer.json()["fusion_url"]  # type: ignore[no-any-return]

    assert sent_to() == STATIC_URL  # no cluster: as before
    report(harness, "a", A_URL, serving=("demo",))
    report(harness, "b", B_URL, serving=("demo",))
    assert sent_to() == STATIC_URL  # serving is not owning, and demo is placed nowhere
    place(harness, "demo", "b")
    assert sent_to() == B_URL  # a live placed node
    report(harness, "a", A_URL, owned=("demo",), serving=("demo",))
    assert sent_to() == A_URL  # the live owner, placed or not
    age(harness, "a", 31)  # the owner went silent
    assert sent_to() == B_URL
    age(harness, "b", 31)
    assert sent_to() == STATIC_URL
    report(harness, "b", B_URL, owned=("demo",))  # b took over and says so
    assert sent_to() == B_URL


def test_a_node_lists_the_datastores_placed_on_it_and_the_unplaced_ones(
    harness: Harness, admin: Actor
) -> None:
    for name, url in (
        ("on-a", None),
        ("on-b", None),
        ("on-both", None),
        ("free-x", A_URL),
        ("free-y", B_URL),
    ):
        harness.ok(admin, "POST", "/datastores", {"name": name, **({"fusion_url": url} if url else {})}, 201)
    place(harness, "on-a", "a")
    place(harness, "on-b", "b")
    place(harness, "on-both", "a", "b")

    def names(query: str) -> list[str]:
        return [d["name"] for d in harness.ok(SERVICE, "GET", "/service/datastores" + query)["datastores"]]

    assert names("?node_id=a") == ["free-x", "free-y", "on-a", "on-both"]
    assert names(f"?node_id=a&fusion_url={A_URL}") == ["free-x", "on-a", "on-both"]
    assert names("?node_id=c") == ["free-x", "free-y"]  # a node nothing is placed on: the unplaced ones
    assert names("") == ["free-x", "free-y", "on-a", "on-b", "on-both"]  # as before
    assert names(f"?fusion_url={B_URL}") == ["free-y"]


def test_placement_goes_with_its_datastore(harness: Harness, admin: Actor) -> None:
    harness.ok(admin, "POST", "/datastores", {"name": "demo"}, 201)
    place(harness, "demo", "a", "b")
    assert len(harness.rows()["datastore_placements"]) == 2
    harness.ok(admin, "DELETE", "/datastores/demo")
    assert harness.rows()["datastore_placements"] == []
    assert harness.ok(admin, "GET", "/cluster/nodes")["nodes"] == []


# --- the admin CLI ------------------------------------------------------------------------------


def cli(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "fustor_registry.cli", "admin", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_the_cli_places_datastores_and_lists_nodes(harness: Harness, admin: Actor, tmp_path: Path) -> None:
    config = tmp_path / "registry.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "database_url": harness.url,
                "secret_key": SECRET_KEY,
                "service_tokens": [SERVICE_TOKEN],
                "password_hash": FAST_HASHING,
            }
        )
    )
    harness.ok(admin, "POST", "/datastores", {"name": "demo"}, 201)
    report(harness, "fusion-a", A_URL, owned=("demo",), serving=("demo",))

    placed = json.loads(
        cli(config, "datastores", "place", "demo", "--nodes", "fusion-b, fusion-a", "--json").stdout
    )
    assert placed == {"datastore": "demo", "nodes": ["fusion-a", "fusion-b"]}
    nodes = json.loads(cli(config, "nodes", "list", "--json").stdout)["nodes"]
    assert [(n["node_id"], n["alive"], n["owned"], n["placed"]) for n in nodes] == [
        ("fusion-a", True, ["demo"], ["demo"]),
        ("fusion-b", False, [], ["demo"]),
    ]
    text_lines = cli(config, "nodes", "list").stdout.splitlines()
    assert text_lines[0].startswith("fusion-a") and "alive" in text_lines[0] and A_URL in text_lines[0]
    assert "DOWN" in text_lines[1] and "seen=never" in text_lines[1]

    assert "unplaced" in cli(config, "datastores", "place", "demo", "--nodes", "").stdout
    assert harness.rows()["datastore_placements"] == []

    refused = cli(config, "datastores", "place", "missing", "--nodes", "a", check=False)
    assert refused.returncode == 2 and "no datastore named 'missing'" in refused.stderr
    refused = cli(config, "datastores", "place", "demo", "--nodes", "a,b c", check=False)
    assert refused.returncode == 2 and "not a node id" in refused.stderr
    assert harness.rows()["datastore_placements"] == []


# --- Fusion's side, against a real Registry ------------------------------------------------------


@pytest.fixture
def registry_url(harness: Harness) -> Iterator[str]:
    with serve(create_app(harness.registry.config, registry=harness.registry)) as url:
        yield url


def test_a_fusion_node_reports_itself_and_asks_for_its_placed_datastores(
    harness: Harness, admin: Actor, registry_url: str
) -> None:
    for name in ("mine", "theirs", "free"):
        harness.ok(admin, "POST", "/datastores", {"name": name}, 201)
    place(harness, "mine", "fusion-a")
    place(harness, "theirs", "fusion-b")
    adopted: list[str] = []
    owned = {"mine"}

    async def scenario() -> None:
        link = RegistryLink(
            RegistryLinkConfig(url=registry_url, service_token=SERVICE_TOKEN, report_interval_s=60),
            static=None,
            adopt=adopted.append,
            node=ClusterNode("fusion-a", A_URL, lambda: (sorted(owned), sorted(set(adopted)))),
        )
        try:
            await link.refresh(0.0)
            first = harness.ok(admin, "GET", "/cluster/nodes")["nodes"]
            owned.clear()
            await link.refresh(1.0)  # before the report interval: nothing sent
            assert harness.ok(admin, "GET", "/cluster/nodes")["nodes"][0]["owned"] == ["mine"]
            link.report_soon()  # e.g. it lost the view: report at once
            await link.refresh(2.0)
        finally:
            await link.aclose()
        assert [(n["node_id"], n["advertise_url"], n["owned"], n["serving"]) for n in first][:1] == [
            (
                "fusion-a",
                A_URL,
                ["mine"],
                ["free", "mine"],
            )
        ]

    asyncio.run(scenario())
    assert sorted(adopted) == ["free", "mine"]  # never "theirs"
    assert harness.ok(admin, "GET", "/cluster/nodes")["nodes"][0]["owned"] == []


def test_the_checker_reports_a_node_and_a_refused_report_raises(harness: Harness, registry_url: str) -> None:
    async def scenario() -> None:
        good = RegistryKeyChecker(registry_url, SERVICE_TOKEN)
        bad = RegistryKeyChecker(registry_url, "not-the-service-token-at-all")
        try:
            await good.report_node("n.1", A_URL, ["b", "a"], ["a", "b"])
            with pytest.raises(Exception, match="service token"):
                await bad.report_node("n.1", B_URL, [], [])
        finally:
            await good.aclose()
            await bad.aclose()

    asyncio.run(scenario())
    with harness.registry.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT node_id, advertise_url FROM fusion_nodes")).all()
    assert [tuple(row) for row in rows] == [("n.1", A_URL)]

"""Schema-driven fuzzing: requests generated from Fusion's own OpenAPI document, against a real
server on 127.0.0.1. Every answer must be documented (status, content type, body schema), never
a 5xx, and the server must refuse what the document says is invalid.

Bounded: ``FUZZ_EXAMPLES`` cases per operation (positive and negative data). The number of
requests sent is printed at the end of the run ("schema fuzzing: ...").
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fusion_testkit import BASE_CONFIG, BOTH_KEY, Fusion, event, row, serve_app, wait_until

from fustor_core.http_testing import fuzz
from fustor_core.plugins import get_plugin_manager
from fustor_fusion.app import create_app
from fustor_fusion.config import parse_fusion_config


@pytest.fixture(scope="module")
def fuzzed_fusion() -> Iterator[tuple[Fusion, str]]:
    """A Fusion with the default rules, some tree, and one live leader session."""
    data = copy.deepcopy(BASE_CONFIG)
    data["session_timeout_s"] = 3600
    pm = get_plugin_manager(
        only=[
            "storage-memory",
            "merge-mtime",
            "merge-tombstone",
            "merge-suspect",
            "merge-blindspot",
            "merge-completion",
        ],
        exclude=(),
    )
    app = create_app(parse_fusion_config(data), plugin_manager=pm)
    with serve_app(app) as url:
        fusion = Fusion(url=url, app=app, clock=None)
        wait_until(lambda: fusion.client().get("/readyz").status_code == 200)  # views loaded
        leader = fusion.agent().open()
        leader.send_ok(event("snapshot", "insert", row("/a/b.dat", size=3), row("/a/c", is_dir=True)))
        yield fusion, leader.sid
        fusion.close()


@pytest.fixture(scope="module")
def fusion_schema(fuzzed_fusion: tuple[Fusion, str]) -> Any:
    """The served document, with ``ds`` and ``sid`` narrowed to a datastore and a session that
    exist (random ones only ever answer 403/409, which would leave the bodies unexplored), and
    without a tree query's ``wait`` (``wait=complete`` on a random path waits out its timeout,
    up to a minute per case; ``timeout`` alone is still fuzzed) nor any query's ``min_seq``
    (likewise: a number the view never reaches waits 10 s), and without the operations that
    wait for an agent (below)."""
    fusion, sid = fuzzed_fusion
    document = fusion.client().get("/api/v1/openapi.json").json()
    # waits for an agent are not for a fuzzer that counts every 5xx as a failure: the leader's long
    # poll of its task channel, and fresh=true (a 503 without a polling leader, a 504 once this
    # session polled and never lists) are tested on real servers in test_fresh.py
    del document["paths"]["/api/v1/ingest/sessions/{sid}/tasks"]
    fresh_tree = document["paths"]["/api/v1/views/{ds}/tree"]["get"]
    fresh_tree["parameters"] = [p for p in fresh_tree["parameters"] if p["name"] != "fresh"]
    for route, operations in document["paths"].items():
        for method, operation in operations.items():
            if route.endswith("/tree"):
                operation["parameters"] = [p for p in operation["parameters"] if p["name"] != "wait"]
            # min_seq beyond the view waits out its bound, then 504 (test_cluster_consistency.py)
            operation["parameters"] = [p for p in operation.get("parameters", []) if p["name"] != "min_seq"]
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "path":
                    continue
                if parameter["name"] == "ds":
                    parameter["schema"] = {"type": "string", "enum": ["demo"]}
                elif (
                    parameter["name"] == "sid" and method != "delete"
                ):  # closing it would end the run's session
                    parameter["schema"] = {"type": "string", "enum": [sid]}
    return schemathesis.openapi.from_dict(document)


def test_fusion_answers_as_its_openapi_document_says(
    fuzzed_fusion: tuple[Fusion, str], fusion_schema: Any
) -> None:
    fusion, _ = fuzzed_fusion
    failures = fuzz(fusion_schema, fusion.url, {"X-API-Key": BOTH_KEY}, service="Fusion")
    assert not failures, "\n\n".join(failures)

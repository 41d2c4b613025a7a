"""Unexpected failures stay inside; the OpenAPI document is valid and lists every route."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fusion_testkit import Fusion, StartFusion, error_of
from openapi_spec_validator import validate
from starlette.routing import Route

from fustor_core import hookimpl
from fustor_fusion.app import ENDPOINTS


class ExplodingStats:
    """A broken third-party rule: its stats hook raises (once the view is serving)."""

    armed = False
    """Off while the views start (they ask every rule for its stats keys then)."""

    @hookimpl
    def fustor_view_stats(self, view: Any) -> dict[str, Any]:
        if self.armed:
            raise RuntimeError("secret internals /etc/shadow")
        return {}


def test_an_unexpected_error_is_a_logged_500_without_a_trace(
    start_fusion: StartFusion, caplog: pytest.LogCaptureFixture
) -> None:
    exploding = ExplodingStats()
    fusion = start_fusion(extra_plugins=(exploding,))
    exploding.armed = True
    with caplog.at_level(logging.ERROR, logger="fustor_core.http_errors"):
        answer = fusion.query().get("stats")
    status, code, message = error_of(answer)
    assert (status, code) == (500, "internal_error")
    assert "secret" not in answer.text and "RuntimeError" not in answer.text
    reference = message.split("ref ")[1].split(")")[0]
    logged = [r for r in caplog.records if r.getMessage() == "unhandled error"]
    assert logged and logged[0].exc_info is not None
    assert logged[0].fields["ref"] == reference  # type: ignore[attr-defined]
    # the server keeps serving
    assert fusion.client().get("/healthz").status_code == 200


def test_openapi_document_validates_and_lists_every_route(fusion: Fusion) -> None:
    document = fusion.client().get("/api/v1/openapi.json").json()
    validate(document)
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {
        (method, route.path)
        for route in fusion.app.routes
        if isinstance(route, Route)
        for method in (route.methods or ()) - {"HEAD"}
    }
    assert documented == served
    assert len(served) == len(ENDPOINTS) == 25  # 21 + /metrics + the task channel (2) + /changes
    ingest_events = document["paths"]["/api/v1/ingest/sessions/{sid}/events"]["post"]
    assert ingest_events["security"] == [{"apiKey": []}]
    assert {"200", "307", "401", "403", "409", "413", "422"} <= set(ingest_events["responses"])
    tree = document["paths"]["/api/v1/views/{ds}/tree"]["get"]
    assert {p["name"] for p in tree["parameters"]} == {
        *("ds", "path", "depth", "limit", "cursor", "max_nodes", "wait", "timeout"),
        "fresh",  # fresh answers on demand
        "min_seq",  # read your writes through any node of a cluster
    }
    assert {"503", "504"} <= set(tree["responses"])
    tasks = document["paths"]["/api/v1/ingest/sessions/{sid}/tasks"]["get"]  # the leader's task channel
    assert {p["name"] for p in tasks["parameters"]} == {"sid", "wait"}
    assert "post" in document["paths"]["/api/v1/ingest/sessions/{sid}/tasks/{tid}/done"]
    for name in ("EventBatch", "TreeNode", "Stats", "SessionOpenRequest", "ErrorBody", "BatchAnswer"):
        assert any(key.startswith(name) for key in document["components"]["schemas"]), name

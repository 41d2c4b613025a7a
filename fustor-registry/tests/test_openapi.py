"""The Registry's OpenAPI 3.1 document agrees with the server: it is valid, lists every route the
app serves (and no other), and a schema-driven fuzzer (schemathesis, bounded, loopback only)
finds no 5xx, no answer that breaks the document, and no disagreement about what is valid."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fuzz_runner import FuzzRun, run_schemathesis
from openapi_spec_validator import validate
from registry_testkit import SERVICE_TOKEN, Actor, Harness, serve
from starlette.routing import Route

from fustor_registry.api import create_app

FUZZ_MAX_EXAMPLES = 60
"""Per operation and phase; with the coverage phase's boundary cases that is ~3,000 requests."""
FUZZ_TIMEOUT_S = 300.0
SERVICE_OPERATIONS = ("verify_key", "service_datastores", "report_node")
RULES_BEYOND_JSON_SCHEMA = ("create_datastore", "update_datastore", "create_environment", "create_key")
"""Operations with a rule JSON Schema cannot state: free-form JSON encodes to at most 16 KiB (a
total size, not a per-value bound), and a key's ``expires_at`` lies in the future. A schema-valid
body may break them, so these run without schemathesis's "schema-valid data is accepted" check
(every other check still applies)."""


@pytest.fixture
def server(harness: Harness) -> Iterator[str]:
    with serve(create_app(harness.registry.config, registry=harness.registry)) as url:
        yield url


def test_document_is_valid_openapi_and_lists_every_route(harness: Harness, server: str) -> None:
    answer = httpx.get(server + "/api/v1/openapi.json")
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    document = answer.json()
    validate(document)  # OpenAPI 3.1 (JSON Schema 2020-12)
    assert document["openapi"] == "3.1.0"

    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    served = set()
    for route in harness.app.router.routes:
        assert isinstance(route, Route)
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        served |= {(method, path) for method in route.methods or () if method != "HEAD"}
    assert documented == served

    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == error_ref, (
                        method,
                        path,
                        status,
                    )
                elif path == "/metrics":  # Prometheus text, the only answer that is not JSON
                    assert next(iter(response["content"])).startswith("text/plain; version="), response
                else:
                    assert "application/json" in response["content"], (method, path, status)
            if operation.get("security"):
                assert "401" in operation["responses"], (method, path)
            if "requestBody" in operation:
                assert {"413", "422"} <= set(operation["responses"]), (method, path)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/users/plain", {"disabled": "yes"}, "disabled"),
        ("PATCH", "/users/plain", {"disabled": 1}, "disabled"),
        ("POST", "/datastores/demo/keys", {"scopes": ["ingest"], "expires_in_s": "10"}, "expires_in_s"),
        ("POST", "/datastores/demo/keys", {"scopes": "ingest"}, "scopes"),
        ("POST", "/datastores", {"name": 10}, "name"),
        ("POST", "/datastores", {"name": "x", "description": None}, "description"),
        ("POST", "/users", {"username": "eve", "password": 12345678}, "password"),
        ("POST", "/keys/verify", {"key": 1}, "key"),
    ],
)
def test_request_bodies_are_not_coerced(
    harness: Harness, server: str, method: str, path: str, body: object, field: str
) -> None:
    root = harness.user("root", role="admin")
    harness.add_user("plain")
    harness.ok(root, "POST", "/datastores", {"name": "demo"}, 201)
    headers = {"Authorization": f"Bearer {SERVICE_TOKEN}"} if path == "/keys/verify" else root.headers
    before = harness.rows()
    answer = httpx.request(method, server + "/api/v1" + path, json=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["message"].startswith(field), answer.text
    assert harness.rows() == before


def seed_for_fuzzing(harness: Harness) -> dict[str, Actor]:
    """Records under the names a fuzzer tries first ("0"), so its requests reach the code behind
    the 404s; the fuzzing admin has a name it will not guess (so it cannot disable it)."""
    admin = harness.user("fuzz-admin-7f3a", role="admin")
    harness.add_user("0")
    for name in ("0", "demo"):
        harness.ok(admin, "POST", "/storage-environments", {"name": name, "kind": "nfs"}, 201)
        harness.ok(
            admin, "POST", f"/storage-environments/{name}/credentials", {"name": "0", "secret": "s"}, 201
        )
        harness.ok(admin, "POST", "/datastores", {"name": name, "storage_environment": name}, 201)
    ingest = harness.ok(admin, "POST", "/datastores/demo/keys", {"scopes": ["ingest"]}, 201)["key"]
    service = Actor("fusion", {"Authorization": f"Bearer {SERVICE_TOKEN}"})
    node = {"advertise_url": "http://127.0.0.1:8102", "owned": ["demo"], "serving": ["demo", "0"]}
    harness.ok(service, "PUT", "/cluster/nodes/0", node)  # a node for the listing to show
    return {
        "admin": admin,
        "bootstrap": Actor("agent", {"X-API-Key": ingest}),
        "service": service,
        "throwaway": harness.user("leaving"),
    }


def test_fuzzing_finds_no_disagreement(
    harness: Harness,
    server: str,
    tmp_path: Path,
    record_property: pytest.RecordProperty,
    report_fuzz: Callable[[str], None],
) -> None:
    actors = seed_for_fuzzing(harness)
    schema = server + "/api/v1/openapi.json"
    own_runs = (*SERVICE_OPERATIONS, "agent_bootstrap", "logout", *RULES_BEYOND_JSON_SCHEMA)
    runs: dict[str, FuzzRun] = {}

    def fuzz(label: str, actor: str, **options: object) -> None:
        runs[label] = run_schemathesis(
            schema,
            report_dir=tmp_path / label,
            headers=actors[actor].headers,
            max_examples=FUZZ_MAX_EXAMPLES,
            timeout_s=FUZZ_TIMEOUT_S,
            **options,  # type: ignore[arg-type]
        )

    fuzz("user-api", "admin", exclude_operation_ids=own_runs)
    fuzz(
        "rules-beyond-json-schema",
        "admin",
        include_operation_ids=RULES_BEYOND_JSON_SCHEMA,
        exclude_checks=("positive_data_acceptance",),
    )
    fuzz("service", "service", include_operation_ids=SERVICE_OPERATIONS)
    fuzz("bootstrap", "bootstrap", include_operation_ids=("agent_bootstrap",))
    fuzz("logout", "throwaway", include_operation_ids=("logout",))  # last: it ends its own token

    total = sum(run.requests for run in runs.values())
    report = ", ".join(f"{label}: {run.summary()}" for label, run in runs.items())
    line = f"registry ({harness.registry.db.engine.dialect.name}): {total} requests; {report}"
    print("\n" + line)
    report_fuzz(line)
    record_property("fuzz_requests", total)
    for label, run in runs.items():
        assert run.requests > 0, f"{label}: no request sent\n{run.output}"
        assert not run.failures, f"{label}: " + "\n\n".join(run.failures)
        assert run.returncode == 0, f"{label}: schemathesis exited {run.returncode}\n{run.output}"

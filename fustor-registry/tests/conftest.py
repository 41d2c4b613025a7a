"""Registry fixtures. Every test that touches a database runs twice: on SQLite and on PostgreSQL.

PostgreSQL comes from ``FUSTOR_TEST_POSTGRES_URL`` (``.ci/start-postgres.sh`` starts one and
prints it). Without it the PostgreSQL variants are skipped, except under ``CI=true`` where a
missing server is a failure. Each test session works in its own schemas, dropped at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))

from registry_testkit import Backend, Harness, clear_tables, postgres_url, registry_config

from fustor_registry import migrate
from fustor_registry.api import create_app
from fustor_registry.db import make_engine

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
FUZZ_REPORTS = pytest.StashKey[list[str]]()


@pytest.fixture
def report_fuzz(request: pytest.FixtureRequest) -> Callable[[str], None]:
    """Add a line to the "schema-driven fuzzing" section printed at the end of the run (so CI
    logs show the request counts without ``-s``)."""
    return request.config.stash.setdefault(FUZZ_REPORTS, []).append


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    reports = config.stash.get(FUZZ_REPORTS, [])
    if reports:
        terminalreporter.section("schema-driven fuzzing")
        for line in reports:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path_factory.mktemp("sqlite")))
        return
    url = postgres_url()
    if url is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "CI=true but FUSTOR_TEST_POSTGRES_URL is not set (start one with .ci/start-postgres.sh)"
            )
        pytest.skip(
            "PostgreSQL variant: FUSTOR_TEST_POSTGRES_URL is not set (start one with .ci/start-postgres.sh)"
        )
    backend = Backend("postgresql", url)
    yield backend
    backend.cleanup()


@pytest.fixture(scope="session")
def migrated_url(backend: Backend) -> str:
    """One database per backend and session, migrated to head once."""
    url = backend.new_database("suite")
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture
def database_url(migrated_url: str) -> str:
    """The session's database, emptied of rows for this test."""
    clear_tables(migrated_url)
    return migrated_url


@pytest.fixture
def start_harness(database_url: str) -> Iterator[Callable[..., Harness]]:
    """Build a Registry app on the test database; keywords override config keys."""
    clients: list[TestClient] = []

    def start(**overrides: Any) -> Harness:
        app = create_app(registry_config(database_url, **overrides))
        client = TestClient(app, raise_server_exceptions=True)
        client.__enter__()
        clients.append(client)
        return Harness(app, client, database_url)

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def harness(start_harness: Callable[..., Harness]) -> Harness:
    return start_harness()

"""The shared PostgreSQL test server, for the tests of every package that needs one.

CI starts one (``.ci/start-postgres.sh``) and exports ``FUSTOR_TEST_POSTGRES_URL`` in the
SQLAlchemy form (``postgresql+psycopg://...``). Without it a developer's run skips those tests;
under CI a missing server is a failure, never a silent skip. Imported by tests only (needs pytest).
"""

from __future__ import annotations

import os

import pytest

ENV = "FUSTOR_TEST_POSTGRES_URL"


def libpq_url(url: str) -> str:
    """``url`` as libpq/psycopg takes it (the SQLAlchemy driver suffix ``+psycopg`` dropped)."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def shared_postgres_url() -> str:
    """The shared test server's URL as given (SQLAlchemy form); skips without one, fails under CI."""
    url = os.environ.get(ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {ENV} is not (start one with .ci/start-postgres.sh)")
        pytest.skip(f"{ENV} is not set (start PostgreSQL with .ci/start-postgres.sh)")
    return url


__all__ = ["ENV", "libpq_url", "shared_postgres_url"]

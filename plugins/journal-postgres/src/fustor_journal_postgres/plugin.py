"""The journal hook: Fusion asks every plugin for a view's journal and uses the first answer."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fustor_core import hookimpl
from fustor_core.errors import ConfigError
from fustor_journal_postgres.journal import PostgresJournal
from fustor_journal_postgres.schema import quote_schema

DRIVER = "postgres"
"""The ``journal.driver`` value this plugin answers to."""
OPTIONS = ("url", "schema", "connect_timeout_s")
DEFAULT_SCHEMA = "fustor_journal"
DEFAULT_CONNECT_TIMEOUT_S = 5.0
SCHEMES = ("postgresql", "postgres")


def connection_url(url: str) -> str:
    """``url`` as libpq takes it: the SQLAlchemy form ``postgresql+psycopg://`` (what the
    Registry's ``database_url`` uses) loses its ``+psycopg``. ValueError for anything else."""
    scheme, sep, rest = url.partition("://")
    if scheme == "postgresql+psycopg":
        scheme = "postgresql"
    if not sep or scheme not in SCHEMES or not rest:
        raise ValueError("must be a postgresql:// URL (postgresql://user:password@host:port/database)")
    normalized = f"{scheme}://{rest}"
    try:
        urlsplit(normalized).port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise ValueError("has a port that is not a number") from None
    return normalized


@hookimpl
def fustor_journal(datastore: str, driver: str, options: dict[str, Any]) -> PostgresJournal | None:
    """The journal of ``datastore`` in PostgreSQL when the postgres driver is asked for.

    Options (keys of the ``journal`` section of ``fusion.yaml``): ``url`` (required) —
    ``postgresql://user:password@host:port/database``, or the SQLAlchemy form
    ``postgresql+psycopg://...``; ``schema`` — where the tables live (default
    ``fustor_journal``; created at first open); ``connect_timeout_s`` — how long opening a
    connection may take (default 5).
    """
    if driver != DRIVER:
        return None
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"journal.{unknown[0]}: unknown option of the postgres journal (it takes {', '.join(OPTIONS)})"
        )
    url = options.get("url")
    if not isinstance(url, str) or not url:
        raise ConfigError(
            "journal.url: required by the postgres journal (postgresql://user:password@host/db)"
        )
    try:
        conninfo = connection_url(url)
    except ValueError as exc:
        raise ConfigError(f"journal.url: {exc}") from None
    schema = options.get("schema", DEFAULT_SCHEMA)
    try:
        quote_schema(schema if isinstance(schema, str) else "")
    except ValueError:
        raise ConfigError(
            "journal.schema: must be a PostgreSQL name of letters, digits and _ (at most 63, not"
            " starting with a digit)"
        ) from None
    timeout = options.get("connect_timeout_s", DEFAULT_CONNECT_TIMEOUT_S)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise ConfigError("journal.connect_timeout_s: must be a number of seconds greater than 0")
    if not datastore:
        raise ConfigError("datastore name: empty")
    return PostgresJournal(conninfo, datastore, schema=schema, connect_timeout_s=float(timeout))

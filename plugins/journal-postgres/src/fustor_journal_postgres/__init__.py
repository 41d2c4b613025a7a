"""Shared journal for Fusion views in PostgreSQL: records and chunked snapshots in tables, and the
lease that decides which Fusion node owns a view.

The package module is the plugin (entry point ``journal-postgres = "fustor_journal_postgres"``),
so the hook implementation is re-exported here.
"""

from fustor_journal_postgres.journal import PostgresJournal
from fustor_journal_postgres.plugin import DRIVER, connection_url, fustor_journal

__all__ = ["DRIVER", "PostgresJournal", "connection_url", "fustor_journal"]

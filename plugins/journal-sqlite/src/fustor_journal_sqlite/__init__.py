"""Embedded journal for Fusion views: records in SQLite (WAL), snapshots as files beside it.

The package module is the plugin (entry point ``journal-sqlite = "fustor_journal_sqlite"``), so
the hook implementation is re-exported here.
"""

from fustor_journal_sqlite.journal import SqliteJournal
from fustor_journal_sqlite.plugin import DRIVER, fustor_journal

__all__ = ["DRIVER", "SqliteJournal", "fustor_journal"]

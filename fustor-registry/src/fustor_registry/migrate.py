"""Schema migrations, run programmatically: on every start and by ``fustor-registry db upgrade``.

The Alembic scripts ship inside the package (``fustor_registry/migrations``), so an installed
Registry can migrate its database without an ``alembic.ini`` or a source checkout.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from fustor_core.logs import log_event

logger = logging.getLogger(__name__)

SCRIPT_LOCATION = "fustor_registry:migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    return config


@functools.cache
def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None, "the Registry ships at least one migration"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the schema to ``revision``; returns the revision the database is at afterwards."""
    if revision == "head":
        current = current_revision(engine)
        if current == head_revision():
            return current  # the common start-up case: nothing to load, nothing to run
    return _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> str | None:
    """Take the schema back to ``revision`` (for operators rolling back a release, and tests)."""
    return _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> str | None:
    before = current_revision(engine)
    config = alembic_config()
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            # SQLite alters a table by copying it and dropping the original; with foreign keys
            # enforced, that drop would fire ON DELETE actions on the rows that point at it
            # (e.g. null every key's datastore). The pragma only works outside a transaction.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()  # ends SQLAlchemy's autobegun (empty) transaction
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                step(config, revision)
        finally:
            if engine.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
    after = current_revision(engine)
    if after != before:
        log_event(logger, logging.INFO, "database migrated", from_revision=before, to_revision=after)
    return after

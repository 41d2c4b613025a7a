"""Alembic environment: migrates the connection handed over by :mod:`fustor_registry.migrate`.

The Registry never reads an ``alembic.ini``; :func:`fustor_registry.migrate.upgrade` builds the
Alembic config in code and passes an open connection in ``config.attributes["connection"]``, so
URLs with ``%`` in passwords need no escaping and the migration shares the caller's transaction.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection

from fustor_registry.models import Base


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite can only alter tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url given to the Registry migrations")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run `fustor-registry db upgrade`")
run_online()

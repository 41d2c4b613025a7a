"""Alembic environment and revisions of the Registry schema (run through fustor_registry.migrate)."""

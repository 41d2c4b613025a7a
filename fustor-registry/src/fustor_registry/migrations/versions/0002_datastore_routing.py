"""Datastore routing and key labels: which Fusion serves a datastore, its settings, key labels.

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-02

Existing rows get ``fusion_url = NULL`` (unknown: agents must be told the URL), ``settings = {}``
and an empty key label, so a database created by 0001 upgrades without losing anything.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datastores") as batch:
        batch.add_column(sa.Column("fusion_url", sa.String(2048), nullable=True))
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("label", sa.String(200), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("label")
    with op.batch_alter_table("datastores") as batch:
        batch.drop_column("settings")
        batch.drop_column("fusion_url")

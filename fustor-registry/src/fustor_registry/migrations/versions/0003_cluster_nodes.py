"""Cluster routing: the Fusion nodes of a cluster, as they report themselves, and placement.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

``fusion_nodes`` holds one row per Fusion node that reported itself (``PUT
/api/v1/cluster/nodes/{node_id}``): its advertised URL, when it was last seen, and the datastores
it owns and serves (JSON lists of names). ``datastore_placements`` says which nodes serve a
datastore; a node id there need not have reported yet (placement may come first), so it is not a
foreign key to ``fusion_nodes``. Both tables start empty: existing datastores stay unplaced and
keep being routed by their ``fusion_url`` as before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fusion_nodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("advertise_url", sa.String(2048), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("owned", sa.JSON(), nullable=False),
        sa.Column("serving", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_fusion_nodes"),
        sa.UniqueConstraint("node_id", name="uq_fusion_nodes_node_id"),
    )
    op.create_table(
        "datastore_placements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("datastore_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["datastore_id"],
            ["datastores.id"],
            name="fk_datastore_placements_datastore_id_datastores",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_datastore_placements"),
        sa.UniqueConstraint("datastore_id", "node_id", name="uq_datastore_placements_datastore_id_node_id"),
    )
    op.create_index("ix_datastore_placements_datastore_id", "datastore_placements", ["datastore_id"])
    op.create_index("ix_datastore_placements_node_id", "datastore_placements", ["node_id"])


def downgrade() -> None:
    op.drop_index("ix_datastore_placements_node_id", table_name="datastore_placements")
    op.drop_index("ix_datastore_placements_datastore_id", table_name="datastore_placements")
    op.drop_table("datastore_placements")
    op.drop_table("fusion_nodes")

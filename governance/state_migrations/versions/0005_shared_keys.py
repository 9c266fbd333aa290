"""Data keys wrapped by the key provider, shared by every worker (issue 15).

Revision ID: 0005_shared_keys
Revises: 0002_retention_safety
Create Date: 2026-12-06

Each table is created only if absent: a database made by an older
``METADATA.create_all`` (see the baseline) may hold them already.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_shared_keys"
down_revision = "0002_retention_safety"
branch_labels = None
depends_on = None


def _create(name: str, *elements: sa.SchemaItem) -> None:
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *elements)


def upgrade() -> None:
    _create(
        "platform_data_keys",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=40), nullable=False),
        sa.Column("master_key_id", sa.String(length=300), nullable=False),
        sa.Column("wrapped", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    _create(
        "platform_destroyed_keys",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("platform_destroyed_keys")
    op.drop_table("platform_data_keys")

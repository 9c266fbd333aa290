"""Retention safety: the per-store execution claim and sticky rejections.

Revision ID: 0002_retention_safety
Revises: 0001_state_baseline
Create Date: 2026-12-06

``retention_claims`` holds one row per store while a sweep or an execution runs
(the primary key is the claim); ``retention_rejections`` keeps a rejected
batch's cases out of later batches until the rejection is lifted or expires.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_retention_safety"
down_revision = "0001_state_baseline"
branch_labels = None
depends_on = None


def _create(name: str, *elements: sa.SchemaItem) -> None:
    # A database made by ``METADATA.create_all`` of this model already has the table.
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *elements)


def upgrade() -> None:
    _create(
        "retention_claims",
        sa.Column("store", sa.String(length=40), nullable=False),
        sa.Column("token", sa.String(length=36), nullable=False),
        sa.Column("purpose", sa.String(length=80), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=100), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("process_started", sa.String(length=40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("store"),
    )
    _create(
        "retention_rejections",
        sa.Column("store", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.String(length=128), nullable=False),
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("rejected_by", sa.String(length=100), nullable=False),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=100), nullable=True),
        sa.Column("lift_reason", sa.String(length=400), nullable=True),
        sa.PrimaryKeyConstraint("store", "case_id", "batch_id"),
    )


def downgrade() -> None:
    op.drop_table("retention_rejections")
    op.drop_table("retention_claims")

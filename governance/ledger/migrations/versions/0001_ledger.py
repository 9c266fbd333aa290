"""Ledger tables: entries, checkpoints, public keys and the append lock row.

Revision ID: 0001_ledger
Revises:
Create Date: 2025-01-01

Column types are spelled out here rather than imported from ``schema.py`` so
this revision stays what it was when later revisions change the model.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("entry_id", sa.String(36), nullable=False),
        sa.Column("recorded_at", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule", sa.String(128), nullable=True),
        sa.Column("store", sa.String(64), nullable=True),
        sa.Column("record_ids", sa.Text(), nullable=False),
        sa.Column("counts", sa.Text(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    lock = op.create_table(
        "ledger_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("counter", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(lock, [{"id": 1, "counter": 0}])


def downgrade() -> None:
    for table in ("ledger_lock", "ledger_keys", "ledger_checkpoints", "ledger_entries"):
        op.drop_table(table)

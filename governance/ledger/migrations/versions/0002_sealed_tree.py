"""Ledger format 2: one canonical body per entry, a Merkle tree, chained tree heads.

Revision ID: 0002_sealed_tree
Revises: 0001_ledger
Create Date: 2026-12-06

* ``ledger_entries`` keeps ``seq``, the canonical JSON ``body`` exactly as hashed
  and ``entry_hash``; every other column (actor, action, record_ids, ...) is
  GENERATED from ``body``, so a database writer cannot make them disagree with
  what is hashed, and verification reads two columns instead of thirteen.
* ``ledger_checkpoints`` becomes signed tree heads: tree size, Merkle root,
  head entry hash, the hash of the previous tree head and the registered key
  ids, plus the compact range (``frontier``) that lets the next checkpoint
  continue the tree from here.
* ``ledger_keys`` gains ``position``: the registration order that tree heads seal.
* ``ledger_nodes`` caches perfect subtree roots (256 leaves and up) for proofs.

A format-1 ledger that already holds entries cannot be converted here (its
checkpoints sign a different payload): the upgrade stops with one line. Export
it with the previous release first; the bundle stays verifiable.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from governance.errors import LedgerError

revision = "0002_sealed_tree"
down_revision = "0001_ledger"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
# name, type, JSON path, and whether the value is JSON text (lists/objects) or a scalar.
_DERIVED = (
    ("entry_id", sa.String(36), "entry_id", False),
    ("recorded_at", sa.String(32), "recorded_at", False),
    ("actor", sa.String(128), "actor", False),
    ("action", sa.String(128), "action", False),
    ("reason", sa.Text(), "reason", False),
    ("rule", sa.String(128), "rule", False),
    ("store", sa.String(64), "store", False),
    ("record_ids", sa.Text(), "record_ids", True),
    ("counts", sa.Text(), "counts", True),
    ("details", sa.Text(), "details", True),
)


def derived_expression(dialect: str, path: str, is_json: bool) -> str:
    """The GENERATED expression for one derived column (also used by the schema check)."""
    if dialect == "postgresql":
        return f"((body)::jsonb {'->' if is_json else '->>'} '{path}'{')::text' if is_json else ')'}"
    return f"json_extract(body, '$.{path}')"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.execute(sa.text("SELECT count(*) FROM ledger_entries")).scalar():
        raise LedgerError(
            "this ledger holds format-1 entries; export it with the previous release "
            "(governance audit export) and start a new ledger database"
        )
    dialect = bind.dialect.name
    for table in ("ledger_entries", "ledger_checkpoints", "ledger_keys"):
        op.drop_table(table)
    computed = [
        sa.Column(name, kind, sa.Computed(derived_expression(dialect, path, is_json),
                                          persisted=dialect == "postgresql"))
        for name, kind, path, is_json in _DERIVED
    ]
    op.create_table(
        "ledger_entries",
        sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        *computed,
    )
    op.create_table(
        "ledger_checkpoints",
        sa.Column("size", _SEQ, primary_key=True, autoincrement=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("head", sa.String(64), nullable=False),
        sa.Column("prev", sa.String(64), nullable=False),
        sa.Column("keys", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("frontier", sa.Text(), nullable=False),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False, unique=True),
        sa.Column("public_key_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )
    op.create_table(
        "ledger_nodes",
        sa.Column("level", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("idx", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    raise LedgerError("ledger format 2 cannot be downgraded: its entries and tree heads have no format-1 form")

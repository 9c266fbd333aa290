"""An index on (action, seq): finding one kind of entry no longer reads the whole ledger.

Revision ID: 0003_action_index
Revises: 0002_sealed_tree
Create Date: 2026-12-06

"Append once across retries" (governance.unit.Unit.find_once) looks for an
entry of one action whose details carry a key; without an index that read
every entry (about 350 ms at 200,000 entries on SQLite, growing linearly).
The console's ledger page filters by action too. ``action`` is GENERATED from
the hashed body, so the index holds nothing a writer could make disagree with
it; dropping it only makes those reads slow again, never wrong.
"""

from __future__ import annotations

from alembic import op

revision = "0003_action_index"
down_revision = "0002_sealed_tree"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_entries_action_seq", "ledger_entries", ["action", "seq"])


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_action_seq", table_name="ledger_entries")

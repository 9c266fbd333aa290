"""State tables of the data-quality capability.

``quality_quarantine`` is a contract with the retention sweep: a row with
``released_at IS NULL`` keeps its case (``case_id``) out of every disposition.
``quality_runs`` is the other: the retention sweep makes no batch for a store
without a recent passing run. Columns may be added; these may not change meaning.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["quarantine", "runs"]

quarantine = sa.Table(
    "quality_quarantine",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),  # logical entity of the failing record
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("case_id", sa.String(128), nullable=True),  # the case it belongs to, where known
    sa.Column("expectation", sa.String(200), nullable=False),  # the rule that failed
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("quarantined_run", sa.String(200), nullable=True),
    sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("released_run", sa.String(200), nullable=True),
    sa.Index("ix_quality_quarantine_active", "store", "case_id", "released_at"),
    sa.Index("ix_quality_quarantine_record", "store", "entity", "record_id", "expectation"),
)

runs = sa.Table(
    "quality_runs",
    METADATA,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("store", sa.String(40), primary_key=True),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("passed", sa.Boolean, nullable=False),
    sa.Column("gate", sa.String(200), nullable=False),  # why the store failed as a whole; "" when it passed
    sa.Index("ix_quality_runs_store_finished", "store", "finished_at"),
)

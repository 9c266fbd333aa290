"""State tables of the sharing capability (on :data:`governance.state.METADATA`).

``sharing_findings``: one row per (store, finding key); the key is
``<rule>:<record id>``, so the same problem keeps the same row across runs.
Rows hold identifiers, rule codes, dates and run ids; the only free text is
the IG team's own resolution note, which never leaves this table (not logged,
not in XCom, not in the ledger).

``status`` is ``open`` or ``resolved``; ``resolution`` says how:
``note`` (a person resolved it with a note: it stays resolved even while the
rule still finds the record) or ``no_longer_detected`` (the data was
corrected; it reopens if the rule finds the record again).

``sharing_runs``: one row per (run, store) with the run's counts as JSON.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["findings", "runs", "OPEN", "RESOLVED", "BY_NOTE", "NO_LONGER_DETECTED"]

OPEN, RESOLVED = "open", "resolved"
BY_NOTE, NO_LONGER_DETECTED = "note", "no_longer_detected"

findings = sa.Table(
    "sharing_findings",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("finding_key", sa.String(200), nullable=False),  # "<rule>:<record_id>"
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("entity", sa.String(40), nullable=False),  # logical entity of record_id
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("case_id", sa.String(128), nullable=True),
    sa.Column("event_on", sa.Date, nullable=True),  # date of the share, access or case opening
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("first_seen_run", sa.String(200), nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("first_seen_as_of", sa.Date, nullable=False),
    sa.Column("last_seen_run", sa.String(200), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_as_of", sa.Date, nullable=False),
    sa.Column("resolution", sa.String(32), nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("resolved_run", sa.String(200), nullable=True),
    sa.Column("resolved_by", sa.String(128), nullable=True),
    sa.Column("resolution_note", sa.Text, nullable=True),
    sa.UniqueConstraint("store", "finding_key", name="uq_sharing_findings_key"),
    sa.Index("ix_sharing_findings_status", "store", "status", "rule"),
)

runs = sa.Table(
    "sharing_runs",
    METADATA,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("store", sa.String(40), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),  # JSON: numbers and rule codes only
    sa.Column("ledger_seq", sa.Integer, nullable=True),
)

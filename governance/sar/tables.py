"""State tables of the subject-access capability.

``sar_requests`` is a contract with the retention sweep: while a request's
``status`` is one of :data:`PENDING_STATUSES`, every case its subject
(``subject_person_id`` in ``store``) belongs to is held (DPA 2018 s.173).
Columns may be added; these may not change meaning.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["requests", "PENDING_STATUSES", "CLOSED_STATUSES"]

# Anything not delivered or closed holds the subject's cases.
PENDING_STATUSES = ("received", "awaiting_identity", "awaiting_clarification", "in_progress", "in_review", "approved")
CLOSED_STATUSES = ("delivered", "closed", "withdrawn")

requests = sa.Table(
    "sar_requests",
    METADATA,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("subject_person_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(40), nullable=False),
    sa.Column("received_on", sa.Date, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_sar_requests_pending", "store", "status"),
)

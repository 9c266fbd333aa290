"""State tables of the subject-access capability.

``sar_requests`` is a contract with the retention sweep: while a request's
``status`` is one of :data:`PENDING_STATUSES`, every case its subject
(``subject_person_id`` in ``store``) belongs to is held (DPA 2018 s.173).
Columns may be added; these may not change meaning.

The other tables hold what the access-request process needs between steps,
as identifiers, dates, offsets, codes and hashes only: never record content.
Text stays in the case store until it goes into the (encrypted) bundle.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = [
    "requests",
    "pauses",
    "records",
    "searches",
    "redactions",
    "manual_redactions",
    "reviews",
    "disclosures",
    "PENDING_STATUSES",
    "CLOSED_STATUSES",
]

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
    # -- added by the access-request capability (the columns above keep their meaning) --
    sa.Column("requester_kind", sa.String(20), nullable=True),  # subject, parent_carer, agent
    sa.Column("requester_person_id", sa.String(128), nullable=True),  # when the requester is in the store
    sa.Column("parent_basis", sa.String(40), nullable=True),  # why a parent may act for the child
    sa.Column("child_competence", sa.String(20), nullable=True),  # competent, not_competent
    sa.Column("competence_assessed_by", sa.String(128), nullable=True),
    sa.Column("competence_assessed_on", sa.Date, nullable=True),
    sa.Column("child_view", sa.String(40), nullable=True),
    sa.Column("authority_evidence", sa.String(40), nullable=True),  # agents: what proves their authority
    sa.Column("electronic", sa.Boolean, nullable=True),  # asked electronically: answer electronically
    sa.Column("extended_on", sa.Date, nullable=True),  # the day the requester was told of an extension
    sa.Column("extension_reason", sa.String(20), nullable=True),  # complex, numerous
    sa.Column("deadline", sa.Date, nullable=True),  # NULL while the clock waits for identity/authority
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("ix_sar_requests_pending", "store", "status"),
)

# Identity, authority or clarification awaited. The clock starts again from the
# receipt of identity/authority; a clarification stops it for the days it took.
pauses = sa.Table(
    "sar_pauses",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("reason", sa.String(20), nullable=False),  # identity, authority, clarification
    sa.Column("started_on", sa.Date, nullable=False),
    sa.Column("ended_on", sa.Date, nullable=True),
)

# What discovery found: one row per record, with a hash of its text so later
# steps can prove they disclose exactly what was found and reviewed.
records = sa.Table(
    "sar_records",
    METADATA,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("record_id", sa.String(128), primary_key=True),
    sa.Column("case_id", sa.String(128), nullable=True),
    sa.Column("text_sha256", sa.String(64), nullable=False),
    sa.Index("ix_sar_records_case", "case_id"),  # the retention sweep finds bundles by destroyed case
)

# The search log: evidence of a reasonable and proportionate search.
searches = sa.Table(
    "sar_searches",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("source", sa.String(40), nullable=False),  # store, objects, ledger, research
    sa.Column("target", sa.String(300), nullable=False),  # table, object prefix, module
    sa.Column("criterion", sa.String(200), nullable=False),  # how rows were selected (ids, not content)
    sa.Column("found", sa.Integer, nullable=False),
    sa.Column("note", sa.String(200), nullable=True),
    sa.Column("searched_at", sa.DateTime(timezone=True), nullable=False),
)

# Automatic redactions: offsets into a field of a record, the code and the rule.
redactions = sa.Table(
    "sar_redactions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("field", sa.String(40), nullable=False),  # "*" when the whole record is withheld
    sa.Column("start", sa.Integer, nullable=False),
    sa.Column("end", sa.Integer, nullable=False),
    sa.Column("code", sa.String(20), nullable=False),
    sa.Column("rule", sa.String(60), nullable=False),
)

# Exemptions only a reviewer may apply (serious harm, child abuse, court,
# privilege...), and reviewer decisions to lift an automatic withholding.
manual_redactions = sa.Table(
    "sar_manual_redactions",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("action", sa.String(10), nullable=False),  # apply, lift
    sa.Column("entity", sa.String(40), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("field", sa.String(40), nullable=False),
    sa.Column("start", sa.Integer, nullable=True),
    sa.Column("end", sa.Integer, nullable=True),
    sa.Column("code", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),  # the reviewer's reason (stays in the state database)
    sa.Column("applied_by", sa.String(128), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("second_reviewer", sa.String(128), nullable=True),
    sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
)

# Review decisions, bound to the hash of the review pack they saw.
reviews = sa.Table(
    "sar_reviews",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("pack_hash", sa.String(64), nullable=False),
    sa.Column("decision", sa.String(20), nullable=False),  # approved, sent_back
    sa.Column("reviewer", sa.String(128), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),  # airflow, cli
    sa.Column("reason_code", sa.String(40), nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
)

# The disclosure (sharing) event: what went to whom, how, with which key.
disclosures = sa.Table(
    "sar_disclosures",
    METADATA,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("subject_person_id", sa.String(128), nullable=False),
    sa.Column("recipient_kind", sa.String(20), nullable=False),
    sa.Column("package_key", sa.String(300), nullable=False),
    sa.Column("manifest_key", sa.String(300), nullable=False),
    sa.Column("package_sha256", sa.String(64), nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(16), nullable=False),  # fingerprint of the bundle key, never the key
    sa.Column("records_included", sa.Integer, nullable=False),
    sa.Column("records_withheld", sa.Integer, nullable=False),
    sa.Column("redactions", sa.Integer, nullable=False),
    sa.Column("url_expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ledger_seq", sa.Integer, nullable=True),
    sa.Column("disclosed_on", sa.Date, nullable=False),
    sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
)

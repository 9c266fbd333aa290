"""State tables of the retention capability (on :data:`governance.state.METADATA`).

- ``retention_holds``: litigation, inquiry and other holds, each a query (scope) with a
  named source, a reason and a review date.
- ``retention_batches`` / ``retention_batch_items``: a disposition batch made from a plan,
  reviewed, executed in chunks, verified, certified.
- ``retention_chunks``: the intent/complete protocol that keeps store and ledger
  consistent when they are different databases (see :mod:`.execute`).
- ``retention_tombstones``: keyed hashes of destroyed identifiers, to catch records that
  come back from a restored backup.
- ``retention_skeletons``: what anonymisation keeps (no identifiers, no text).
- ``retention_schedule_versions``: schedule versions already written to the ledger.
- ``retention_claims``: who is sweeping or executing a store now (one row per store).
- ``retention_rejections``: cases a reviewer rejected, kept out of batches until lifted or expired.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["holds", "batches", "batch_items", "chunks", "tombstones", "skeletons", "schedule_versions", "claims",
           "rejections"]

_TS = sa.DateTime(timezone=True)

holds = sa.Table(
    "retention_holds",
    METADATA,
    sa.Column("hold_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(40), nullable=True),  # NULL: every store
    sa.Column("kind", sa.String(40), nullable=False),  # litigation, inquiry, other
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),  # JSON: which cases the hold covers
    sa.Column("placed_on", sa.Date, nullable=False),
    sa.Column("review_on", sa.Date, nullable=False),
    sa.Column("lifted_on", sa.Date, nullable=True),
    sa.Column("placed_by", sa.String(100), nullable=False),
)

batches = sa.Table(
    "retention_batches",
    METADATA,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("schedule_version", sa.String(64), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),  # proposed approved rejected executing executed verified
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("approved_by", sa.String(100), nullable=True),
    sa.Column("decided_at", _TS, nullable=True),
    sa.Column("decision_note", sa.String(400), nullable=True),
    sa.Column("counts", sa.Text, nullable=False),  # JSON: per class, rule and action
    sa.Column("executed_at", _TS, nullable=True),
    sa.Column("verified_at", _TS, nullable=True),
    sa.Column("certificate_uri", sa.String(400), nullable=True),
)

batch_items = sa.Table(
    "retention_batch_items",
    METADATA,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("case_id", sa.String(128), primary_key=True),
    sa.Column("case_type", sa.String(40), nullable=False),
    sa.Column("rule_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(20), nullable=False),
    sa.Column("chunk_no", sa.Integer, nullable=False),
    sa.Column("state", sa.String(20), nullable=False),  # pending done skipped
    sa.Column("skip_reason", sa.String(200), nullable=True),
)

chunks = sa.Table(
    "retention_chunks",
    METADATA,
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("chunk_no", sa.Integer, primary_key=True),
    sa.Column("state", sa.String(20), nullable=False),  # intent complete abandoned
    sa.Column("case_ids", sa.Text, nullable=False),  # JSON: the cases this chunk destroys
    sa.Column("object_keys", sa.Text, nullable=False),  # JSON: recorded before rows go, so a crash can finish
    sa.Column("linked_ids", sa.Text, nullable=False),  # JSON: people, families, consents going with the cases
    sa.Column("pending_skeletons", sa.Text, nullable=True),  # JSON: anonymise skeletons until complete
    sa.Column("counts", sa.Text, nullable=True),
    sa.Column("intent_seq", sa.BigInteger, nullable=True),
    sa.Column("complete_seq", sa.BigInteger, nullable=True),
)

tombstones = sa.Table(
    "retention_tombstones",
    METADATA,
    sa.Column("store", sa.String(40), primary_key=True),
    sa.Column("entity", sa.String(40), primary_key=True),
    sa.Column("token", sa.String(64), primary_key=True),  # HMAC-SHA256 of the identifier
    sa.Column("batch_id", sa.String(64), nullable=False),
)

skeletons = sa.Table(
    "retention_skeletons",
    METADATA,
    sa.Column("skeleton_id", sa.String(36), primary_key=True),  # random: not derived from the case
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("batch_id", sa.String(64), nullable=False),
    sa.Column("case_type", sa.String(40), nullable=False),
    sa.Column("year_opened", sa.Integer, nullable=True),
    sa.Column("year_closed", sa.Integer, nullable=True),
    sa.Column("age_band", sa.String(20), nullable=True),
    sa.Column("outcome", sa.String(100), nullable=True),
)

schedule_versions = sa.Table(
    "retention_schedule_versions",
    METADATA,
    sa.Column("version", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("ledger_seq", sa.BigInteger, nullable=False),
)

claims = sa.Table(
    "retention_claims",
    METADATA,
    # One row per store being swept or executed: the primary key is the claim the database enforces.
    sa.Column("store", sa.String(40), primary_key=True),
    sa.Column("token", sa.String(36), nullable=False),  # the claimant's random token
    sa.Column("purpose", sa.String(80), nullable=False),  # "sweep", "execute B-...": for the loser's message
    sa.Column("holder", sa.String(100), nullable=False),  # actor name
    sa.Column("host", sa.String(100), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("process_started", sa.String(40), nullable=True),  # tells a reused pid from the claimant
    sa.Column("claimed_at", _TS, nullable=False),
)

rejections = sa.Table(
    "retention_rejections",
    METADATA,
    # A reviewer's rejection of a batch, per case: the case is not proposed again until it is
    # lifted or expires (see governance.retention.rejections).
    sa.Column("store", sa.String(40), primary_key=True),
    sa.Column("case_id", sa.String(128), primary_key=True),
    sa.Column("batch_id", sa.String(64), primary_key=True),
    sa.Column("rejected_by", sa.String(100), nullable=False),
    sa.Column("rejected_at", _TS, nullable=False),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("expires_on", sa.Date, nullable=False),
    sa.Column("lifted_at", _TS, nullable=True),
    sa.Column("lifted_by", sa.String(100), nullable=True),
    sa.Column("lift_reason", sa.String(400), nullable=True),
)

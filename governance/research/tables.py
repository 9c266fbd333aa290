"""State tables of the research capability (``research_`` prefix, on :data:`governance.state.METADATA`).

- ``research_studies``: the study register, one row per study, with its
  specification (JSON) and lifecycle dates. ``key_id`` stays after the key is
  destroyed, so certificates and the ledger can name it.
- ``research_keys``: the study key, wrapped by the key manager (KMS). Deleting
  the row is the crypto-shred; ``research_studies.key_destroyed_on`` records it.
- ``research_extracts``: each build of a study's extract and its disclosure
  report (counts only). ``wrapped_data_key`` is the per-extract data key wrapped
  under the study key.
- ``research_objects``: every object the capability put in object storage, so
  that destruction can remove every version of every one and prove it.
- ``research_copies``: every local file the platform made from an extract
  (exports), so that destruction can remove them too.
- ``research_members``: the person pseudonyms an extract holds, for access
  requests (:func:`governance.research.discovery.studies_containing`).
- ``research_certificates``: end-of-study certificates (where stored, SHA-256).

Dates are the ``as_of`` the operation was run for (domain functions never read
the clock); the ledger entries carry wall-clock time.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.state import METADATA

__all__ = ["studies", "keys", "extracts", "objects", "copies", "members", "certificates", "STUDY_STATUSES",
           "EXTRACT_STATUSES"]

#: registered -> approved -> ended. ``overdue_since`` is set, not a status.
STUDY_STATUSES = ("registered", "approved", "ended")
#: building -> released | withheld; released -> destroyed (both end actions destroy
#: the original); building -> abandoned when a crashed build is cleaned up.
EXTRACT_STATUSES = ("building", "released", "withheld", "abandoned", "destroyed")

studies = sa.Table(
    "research_studies",
    METADATA,
    sa.Column("study_id", sa.String(64), primary_key=True),
    sa.Column("title", sa.String(400), nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("approver", sa.String(200), nullable=True),
    sa.Column("recipient", sa.String(200), nullable=False),
    sa.Column("store", sa.String(40), nullable=False),
    sa.Column("start_on", sa.Date, nullable=False),
    sa.Column("end_on", sa.Date, nullable=False),
    sa.Column("end_action", sa.String(16), nullable=False),  # anonymise | destroy
    sa.Column("exclude_opted_out", sa.Boolean, nullable=False),
    sa.Column("spec_json", sa.Text, nullable=False),
    sa.Column("spec_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("registered_on", sa.Date, nullable=False),
    sa.Column("approved_on", sa.Date, nullable=True),
    sa.Column("key_id", sa.String(64), nullable=True),
    sa.Column("key_destroyed_on", sa.Date, nullable=True),
    sa.Column("overdue_since", sa.Date, nullable=True),
    sa.Column("ended_on", sa.Date, nullable=True),
    sa.Column("end_outcome", sa.String(16), nullable=True),  # anonymised | destroyed
    sa.Index("ix_research_studies_status", "status", "end_on"),
)

keys = sa.Table(
    "research_keys",
    METADATA,
    sa.Column("key_id", sa.String(64), primary_key=True),
    sa.Column("study_id", sa.String(64), nullable=False, unique=True),
    sa.Column("kms", sa.String(40), nullable=False),
    sa.Column("wrapped", sa.LargeBinary, nullable=False),
    sa.Column("created_on", sa.Date, nullable=False),
)

extracts = sa.Table(
    "research_extracts",
    METADATA,
    sa.Column("extract_id", sa.String(80), primary_key=True),
    sa.Column("study_id", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("built_on", sa.Date, nullable=False),
    sa.Column("age_as_of", sa.Date, nullable=False),
    sa.Column("spec_sha256", sa.String(64), nullable=False),  # the specification it was built from
    sa.Column("wrapped_data_key", sa.LargeBinary, nullable=True),
    sa.Column("rows", sa.BigInteger, nullable=True),
    sa.Column("persons", sa.BigInteger, nullable=True),
    sa.Column("parts", sa.Integer, nullable=True),
    sa.Column("columns_json", sa.Text, nullable=True),
    sa.Column("report_json", sa.Text, nullable=True),  # disclosure report: counts only
    sa.Column("destroyed_on", sa.Date, nullable=True),
    sa.Index("ix_research_extracts_study", "study_id", "status"),
)

objects = sa.Table(
    "research_objects",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.String(64), nullable=False),
    sa.Column("extract_id", sa.String(80), nullable=True),
    sa.Column("kind", sa.String(16), nullable=False),  # part | table | anonymised | certificate
    sa.Column("object_key", sa.String(1024), nullable=False),
    sa.Column("size", sa.BigInteger, nullable=True),
    sa.Column("sha256", sa.String(64), nullable=True),  # of the stored (encrypted) bytes
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),  # anonymised outputs: data key under the KMS
    sa.Column("created_on", sa.Date, nullable=False),
    sa.Column("deleted_on", sa.Date, nullable=True),
    sa.Column("versions_removed", sa.Integer, nullable=True),
    sa.Index("ix_research_objects_study", "study_id", "kind"),
)

copies = sa.Table(
    "research_copies",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("study_id", sa.String(64), nullable=False),
    sa.Column("extract_id", sa.String(80), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_on", sa.Date, nullable=False),
    sa.Column("removed_on", sa.Date, nullable=True),
    sa.Column("was_present", sa.Boolean, nullable=True),  # whether the file still existed when removed
    sa.Index("ix_research_copies_study", "study_id"),
)

members = sa.Table(
    "research_members",
    METADATA,
    sa.Column("extract_id", sa.String(80), primary_key=True),
    sa.Column("member", sa.String(64), primary_key=True),  # the person's pseudonym in this study
    sa.Column("study_id", sa.String(64), nullable=False),
    sa.Index("ix_research_members_lookup", "study_id", "member"),
)

certificates = sa.Table(
    "research_certificates",
    METADATA,
    sa.Column("study_id", sa.String(64), primary_key=True),
    sa.Column("object_key", sa.String(1024), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("issued_on", sa.Date, nullable=False),
    sa.Column("certificate_json", sa.Text, nullable=False),
)

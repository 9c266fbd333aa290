"""The logical model of a children's-services case store.

Every store, whatever its own table and column names, is read through this
model: a mapping file (see :mod:`governance.stores.mapping`) says which physical
table and column hold each logical entity and field. Capabilities (retention,
quality, access requests, research, sharing) speak only in these names.

``pii`` marks fields that hold personal data or free text: they never go to
logs, XCom, ledger entries or Data Docs, and redaction/anonymisation act on them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "FieldType",
    "Field",
    "Entity",
    "ENTITIES",
    "entity",
    "PERSON_ROLES",
    "MEMBER_ROLES",
    "CASE_TYPES",
    "CASE_STATUSES",
    "AGENCIES",
    "LAWFUL_BASES",
    "OVERRIDE_REASONS",
    "CONSENT_STATUSES",
    "AUTHOR_CONSENT",
    "SHARING_DECISIONS",
]


class FieldType(enum.Enum):
    ID = "id"
    TEXT = "text"
    LONG_TEXT = "long_text"
    DATE = "date"
    DATETIME = "datetime"
    BOOL = "bool"


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType
    required: bool = True
    pii: bool = False
    links_to: str | None = None  # logical entity whose ``id`` this field references
    vocabulary: tuple[str, ...] | None = None  # allowed logical values, for enumerated fields
    doc: str = ""


@dataclass(frozen=True)
class Entity:
    name: str
    doc: str
    fields: tuple[Field, ...]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"entity {self.name} has no field {name}")

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def links(self) -> dict[str, str]:
        return {f.name: f.links_to for f in self.fields if f.links_to}


# Vocabularies. Logical values are stable identifiers; a store's own codes are
# translated to them by the mapping's [values] tables.
PERSON_ROLES = ("subject_child", "parent_carer", "family_member", "professional", "member_of_public")
MEMBER_ROLES = ("subject_child", "parent_carer", "family_member", "professional")
CASE_TYPES = (
    "early_help",
    "child_in_need",
    "child_protection",
    "looked_after",
    "adoption",
    "home_start",
    "lado_allegation",
)
CASE_STATUSES = ("open", "closed")
# The per-agency opt-outs of the early-help consent form (seed 001).
AGENCIES = (
    "health",
    "education",
    "police",
    "childrens_social_care",
    "family_service",
    "probation",
    "housing",
    "youth_offending",
    "mental_health",
    "drug_and_alcohol",
    "voluntary_organisations",
    "other_local_authorities",
    "employment_advisers",
)
# Sharing without consent is lawful for these reasons (seed 002 s.3, domain.md).
OVERRIDE_REASONS = ("significant_harm", "crime", "court_order", "not_reasonably_practicable")
LAWFUL_BASES = ("consent", "legal_duty", *OVERRIDE_REASONS)
CONSENT_STATUSES = ("given", "refused", "withdrawn", "not_sought")
AUTHOR_CONSENT = ("granted", "refused", "not_sought")
SHARING_DECISIONS = ("shared", "not_shared")

_ID, _TEXT, _LONG, _DATE, _DT, _BOOL = (
    FieldType.ID,
    FieldType.TEXT,
    FieldType.LONG_TEXT,
    FieldType.DATE,
    FieldType.DATETIME,
    FieldType.BOOL,
)


def _f(name: str, type_: FieldType, **kw) -> Field:
    return Field(name, type_, **kw)


ENTITIES: dict[str, Entity] = {
    e.name: e
    for e in (
        Entity(
            "family",
            "A household the service works with.",
            (
                _f("id", _ID),
                _f("household_name", _TEXT, pii=True, required=False),
                _f("address", _TEXT, pii=True, required=False),
                _f("postcode", _TEXT, pii=True, required=False),
            ),
        ),
        Entity(
            "person",
            "Anyone the store knows: children, parents and carers, relatives, professionals, members of the public.",
            (
                _f("id", _ID),
                _f("family_id", _ID, required=False, links_to="family"),
                _f("role", _TEXT, vocabulary=PERSON_ROLES),
                _f("given_name", _TEXT, pii=True),
                _f("family_name", _TEXT, pii=True),
                _f("aliases", _TEXT, pii=True, required=False, doc="other names, separated by '|'"),
                _f("date_of_birth", _DATE, pii=True, required=False),
                _f("date_of_death", _DATE, pii=True, required=False),
                _f("address", _TEXT, pii=True, required=False),
                _f("postcode", _TEXT, pii=True, required=False),
                _f("phone", _TEXT, pii=True, required=False),
                _f("email", _TEXT, pii=True, required=False),
                _f("organisation", _TEXT, required=False, doc="employer, for professionals"),
                _f("research_opt_out", _BOOL, required=False),
            ),
        ),
        Entity(
            "case",
            "An episode of work: opens on referral, closes, may be reopened or re-referred.",
            (
                _f("id", _ID),
                _f("family_id", _ID, links_to="family"),
                _f("case_type", _TEXT, vocabulary=CASE_TYPES),
                _f("status", _TEXT, vocabulary=CASE_STATUSES),
                _f("opened_on", _DATE),
                _f("closed_on", _DATE, required=False),
                _f("closure_reason", _TEXT, required=False),
                _f("reopened_on", _DATE, required=False),
                _f("re_referral_of", _ID, required=False, links_to="case"),
                _f("last_activity_on", _DATE, required=False),
                _f("order_date", _DATE, required=False, doc="adoption order date"),
                _f("csa_relevant", _BOOL, required=False, doc="touches child sexual abuse (inquiry holds)"),
                _f("child_protection_concerns", _BOOL, required=False),
                _f("social_care_involvement", _BOOL, required=False),
                _f("allegation_outcome", _TEXT, required=False, doc="LADO: substantiated, unsubstantiated, unfounded"),
            ),
        ),
        Entity(
            "case_member",
            "A person's part in a case.",
            (
                _f("id", _ID),
                _f("case_id", _ID, links_to="case"),
                _f("person_id", _ID, links_to="person"),
                _f("role", _TEXT, vocabulary=MEMBER_ROLES),
            ),
        ),
        Entity(
            "casenote",
            "A dated note written on a case.",
            (
                _f("id", _ID),
                _f("case_id", _ID, links_to="case"),
                _f("author_id", _ID, required=False, links_to="person"),
                _f("written_on", _DATE),
                _f("title", _TEXT, pii=True),
                _f("body", _LONG, pii=True),
                _f("police_intelligence", _BOOL, required=False),
                _f("third_party_information", _BOOL, required=False),
                _f("restricted_disclosure", _BOOL, required=False),
            ),
        ),
        Entity(
            "document",
            "A file held in object storage: scans, assessments, third-party reports.",
            (
                _f("id", _ID),
                _f("case_id", _ID, links_to="case"),
                _f("object_key", _TEXT),
                _f("title", _TEXT, pii=True),
                _f("author_organisation", _TEXT, required=False),
                _f("third_party", _BOOL, required=False),
                _f("author_consent", _TEXT, required=False, vocabulary=AUTHOR_CONSENT),
                _f("created_on", _DATE),
            ),
        ),
        Entity(
            "consent",
            "A signed consent form: approach, share, withdrawal.",
            (
                _f("id", _ID),
                _f("family_id", _ID, links_to="family"),
                _f("case_id", _ID, required=False, links_to="case"),
                _f("given_by", _ID, required=False, links_to="person"),
                _f("given_on", _DATE),
                _f("consent_to_approach", _BOOL),
                _f("consent_to_share", _BOOL),
                _f("withdrawn_on", _DATE, required=False),
            ),
        ),
        Entity(
            "consent_opt_out",
            "An agency the family does not want information shared with (one row per ticked box).",
            (
                _f("id", _ID),
                _f("consent_id", _ID, links_to="consent"),
                _f("agency", _TEXT, vocabulary=AGENCIES),
            ),
        ),
        Entity(
            "sharing_record",
            "A decision to share, or not to share, information with another agency.",
            (
                _f("id", _ID),
                _f("case_id", _ID, links_to="case"),
                _f("shared_on", _DATE),
                _f("information", _TEXT, pii=True, doc="what was shared"),
                _f("recipient_agency", _TEXT, vocabulary=AGENCIES),
                _f("purpose", _TEXT),
                _f("decision", _TEXT, vocabulary=SHARING_DECISIONS),
                _f("lawful_basis", _TEXT, required=False, vocabulary=LAWFUL_BASES),
                _f("consent_status", _TEXT, required=False, vocabulary=CONSENT_STATUSES),
                _f("override_reason", _TEXT, required=False, vocabulary=OVERRIDE_REASONS),
                _f("decision_maker", _TEXT, required=False),
                _f("family_informed", _BOOL, required=False),
                _f("not_informed_reason", _TEXT, required=False),
                _f("restriction_on_disclosure", _BOOL, required=False),
                _f("casenote_id", _ID, required=False, links_to="casenote"),
                _f("document_id", _ID, required=False, links_to="document"),
            ),
        ),
        Entity(
            "access_log",
            "Someone opened the family file (seed 003 s.2.5: non-staff access needs a reason).",
            (
                _f("id", _ID),
                _f("case_id", _ID, links_to="case"),
                _f("accessed_by", _TEXT),
                _f("is_staff", _BOOL),
                _f("reason", _TEXT, required=False),
                _f("accessed_at", _DT),
            ),
        ),
    )
}


def entity(name: str) -> Entity:
    try:
        return ENTITIES[name]
    except KeyError:
        raise KeyError(f"no logical entity {name!r}; known: {', '.join(ENTITIES)}") from None

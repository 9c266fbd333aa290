"""The fields a study may ask for, where each comes from and how it must be treated.

An extract is person-level pseudonymised microdata: one row per person per case
they are a member of (the *population* roles, by default the subject child).
Each extractable field has a *kind*, which fixes the treatment:

=============  ==========================================  ===========================
kind           treatment                                   rules (first is default)
=============  ==========================================  ===========================
identifier     keyed HMAC pseudonym (column ``*_pseudonym``) ``pseudonym``
birth_date     age band as of an explicit date              ``age_band:W[:TOP]``
postcode       outward code (district) or area              ``district``, ``area``
date           month or year                                ``month``, ``year``
category, flag kept as coded                                ``keep``
count          kept (a derived number)                      ``keep``
free_text      dropped unless the spec lists it in           ``keep``
               ``keep_free_text``
=============  ==========================================  ===========================

Birth dates and postcodes are always quasi-identifiers, whether or not the
spec declares them (the stricter default). Direct identifiers (names, aliases,
addresses, phone numbers, e-mail, note text) are never extractable.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Kind", "SourceField", "FIELDS", "REFUSED", "source_field", "ALWAYS_QUASI"]


class Kind(enum.Enum):
    IDENTIFIER = "identifier"
    BIRTH_DATE = "birth_date"
    POSTCODE = "postcode"
    DATE = "date"
    CATEGORY = "category"
    FLAG = "flag"
    COUNT = "count"
    FREE_TEXT = "free_text"


@dataclass(frozen=True)
class SourceField:
    """One extractable field: logical entity and field in the case store, and its kind."""

    name: str
    entity: str  # "person", "case", "case_member", or "derived"
    field: str
    kind: Kind
    doc: str = ""


def _f(name: str, entity: str, field: str, kind: Kind, doc: str = "") -> SourceField:
    return SourceField(name, entity, field, kind, doc)


_K = Kind
FIELDS: dict[str, SourceField] = {
    f.name: f
    for f in (
        _f("person_id", "person", "id", _K.IDENTIFIER, "the person (always included)"),
        _f("family_id", "person", "family_id", _K.IDENTIFIER, "the person's household"),
        _f("case_id", "case", "id", _K.IDENTIFIER, "the episode of work"),
        _f("date_of_birth", "person", "date_of_birth", _K.BIRTH_DATE),
        _f("postcode", "person", "postcode", _K.POSTCODE),
        _f("role", "case_member", "role", _K.CATEGORY, "role on the case"),
        _f("case_type", "case", "case_type", _K.CATEGORY),
        _f("case_status", "case", "status", _K.CATEGORY),
        _f("opened_on", "case", "opened_on", _K.DATE),
        _f("closed_on", "case", "closed_on", _K.DATE),
        _f("reopened_on", "case", "reopened_on", _K.DATE),
        _f("last_activity_on", "case", "last_activity_on", _K.DATE),
        _f("child_protection_concerns", "case", "child_protection_concerns", _K.FLAG),
        _f("social_care_involvement", "case", "social_care_involvement", _K.FLAG),
        _f("csa_relevant", "case", "csa_relevant", _K.FLAG),
        _f("allegation_outcome", "case", "allegation_outcome", _K.CATEGORY),
        _f("closure_reason", "case", "closure_reason", _K.FREE_TEXT),
        _f("casenote_count", "derived", "casenote_count", _K.COUNT, "casenotes written on the case"),
    )
}

#: Direct identifiers and note text: refused whatever the spec says.
REFUSED = frozenset({
    "given_name", "family_name", "aliases", "address", "phone", "email", "household_name",
    "date_of_death", "organisation", "title", "body", "text",
})

#: Kinds that are quasi-identifiers whether declared or not.
ALWAYS_QUASI = frozenset({Kind.BIRTH_DATE, Kind.POSTCODE})


def source_field(name: str) -> SourceField:
    try:
        return FIELDS[name]
    except KeyError:
        raise KeyError(name) from None

"""What the store knows of the people around a subject, as matchers for free text.

Third parties are everyone on the subject's cases or in their family except
the subject (and except the requester, when the requester is in the store:
telling a parent what the record says about that parent discloses nothing to
anyone else). Professionals acting in their role are *not* third parties for
redaction: their names are protected spans. Where a third party's full name is
the same as a professional's (or the subject's), the text cannot say who is
meant; the stricter choice is made (redact) and the name is counted as
ambiguous for the reviewer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

__all__ = ["PersonTerms", "KnownPeople", "digits", "date_forms"]

_MIN_GIVEN = 3  # a given name alone shorter than this is too likely to be a word


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def date_forms(day: date | str | None) -> list[str]:
    """How a date of birth is written in notes: 2012-03-07, 07/03/2012, 7/3/2012, 7 March 2012."""
    if day is None:
        return []
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return [day.isoformat(), f"{day:%d/%m/%Y}", f"{day.day}/{day.month}/{day.year}", f"{day.day} {day:%B %Y}",
            f"{day:%d} {day:%B %Y}"]


def _names(person: dict[str, Any]) -> list[str]:
    given, family = (person.get("given_name") or "").strip(), (person.get("family_name") or "").strip()
    names = [f"{given} {family}".strip()] if given or family else []
    names += [a.strip() for a in (person.get("aliases") or "").split("|") if a.strip()]
    return [n for n in names if len(n) >= _MIN_GIVEN]


@dataclass
class PersonTerms:
    """One person's identifiers, as they may appear in text."""

    person_id: str
    names: list[str] = field(default_factory=list)  # full names and aliases
    given: str = ""
    addresses: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)  # digits only
    emails: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)  # no spaces, upper case
    dates: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, person: dict[str, Any]) -> "PersonTerms":
        address = (person.get("address") or "").strip()
        addresses = [address] if len(address) >= 6 else []
        if "," in address:
            addresses.append(address.split(",", 1)[0].strip())  # the first line alone
        return cls(
            person_id=person["id"],
            names=_names(person),
            given=(person.get("given_name") or "").strip(),
            addresses=[a for a in addresses if len(a) >= 6],
            phones=[d for d in [digits(person.get("phone"))] if len(d) >= 7],
            emails=[e.lower() for e in [(person.get("email") or "").strip()] if "@" in e],
            postcodes=[p.replace(" ", "").upper() for p in [(person.get("postcode") or "").strip()] if p],
            dates=date_forms(person.get("date_of_birth")),
        )


class KnownPeople:
    """Third parties, the subject and professionals, ready for matching."""

    def __init__(self, subject: dict[str, Any], people: Iterable[dict[str, Any]], professionals: Iterable[dict[str, Any]],
                 *, requester_person_id: str | None = None) -> None:
        self.subject = PersonTerms.of(subject)
        self.professionals = [PersonTerms.of(p) for p in professionals]
        excluded = {subject["id"], requester_person_id}
        self.third_parties = [PersonTerms.of(p) for p in people if p["id"] not in excluded and p.get("role") != "professional"]
        self.requester = next((PersonTerms.of(p) for p in people if p["id"] == requester_person_id), None)

        own = self._own_terms()
        lowered = lambda values: {v.lower() for v in values}  # noqa: E731
        third_names = lowered(n for t in self.third_parties for n in t.names)
        prof_names = lowered(n for p in self.professionals for n in p.names)
        self.ambiguous_names = sorted((third_names & prof_names) | (third_names & lowered(self.subject.names)))
        # Literal strings to redact, with the rule that names them.
        terms: dict[str, str] = {}
        for t in self.third_parties:
            for name in t.names:
                terms.setdefault(name, "known_person_name")
            for address in t.addresses:
                if address.lower() not in own["addresses"]:
                    terms.setdefault(address, "known_person_address")
            for email in t.emails:
                if email not in own["emails"]:
                    terms.setdefault(email, "known_person_email")
            for day in t.dates:
                if day not in own["dates"]:
                    terms.setdefault(day, "known_person_dob")
        self.literal_terms = terms
        # A given name alone, when it is nobody's protected name part.
        protected_words = {w for n in own["names"] | prof_names for w in n.split()}
        self.given_names = sorted({t.given for t in self.third_parties
                                   if len(t.given) >= _MIN_GIVEN and t.given.lower() not in protected_words})
        self.third_party_phones = {p for t in self.third_parties for p in t.phones} - own["phones"]
        # Identifiers that are never redacted: the subject's (and requester's) own, professionals' work contacts.
        self.keep_phones = own["phones"] | {p for pr in self.professionals for p in pr.phones}
        self.keep_emails = own["emails"] | {e for pr in self.professionals for e in pr.emails}
        self.keep_postcodes = own["postcodes"]
        self.protected_names = sorted(n for n in {n for p in self.professionals for n in p.names}
                                      if n.lower() not in third_names)

    def _own_terms(self) -> dict[str, set[str]]:
        mine = [self.subject] + ([self.requester] if self.requester else [])
        return {
            "names": {n.lower() for m in mine for n in m.names},
            "addresses": {a.lower() for m in mine for a in m.addresses},
            "emails": {e for m in mine for e in m.emails},
            "phones": {p for m in mine for p in m.phones},
            "postcodes": {p for m in mine for p in m.postcodes},
            "dates": {d for d in self.subject.dates},
        }

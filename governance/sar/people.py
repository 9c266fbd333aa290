"""What the store knows of the people around a subject, and of everyone else it records, as matchers.

Third parties are everyone on the subject's cases or in their family except the subject (and
except the requester, when the requester is in the store: telling a parent what the record says
about that parent discloses nothing to anyone else), and every other person the store records
(``others``: an ex-partner on another family's file is still a third party). Professionals acting
in their role are *not* third parties for redaction: their names are protected spans. Where a third
party's full name is the same as a professional's (or the subject's), the text cannot say who is
meant; for the subject's family the stricter choice is made (redact) and the name is counted as
ambiguous for the reviewer; a namesake on another family's file does not outweigh the subject's
or a professional's own name.

What is matched, for everyone: full names and aliases (any length, word boundaries; two-letter
aliases case-sensitive), e-mails, phones (digits, any spacing or brackets), addresses as word
sequences (:mod:`governance.sar.addresses`). For the subject's family and cases also: given
names alone and their short forms (Daz for Darren), initials (KP), and dates of birth in any
format. Another family's dates of birth count only next to a cue ("DOB", "born"): a store of
thousands covers most days of the calendar.

For a request, ``others`` holds only the people its texts could name, each with only the
identifiers that could occur there (:func:`request_people`, :mod:`governance.sar.mentions`): the
same redactions as the whole store's, without profiling 71,000 people at every build.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from governance.sar.addresses import address_pattern, address_phrases, street_of

if TYPE_CHECKING:
    from governance.stores.store import CaseStore

__all__ = ["PersonTerms", "KnownPeople", "digits", "date_forms", "store_people", "request_people", "PERSON_FIELDS"]

_MIN_GIVEN = 3  # a given name alone shorter than this is too likely to be a word
PERSON_FIELDS = ("id", "family_id", "role", "given_name", "family_name", "aliases", "date_of_birth", "address",
                 "postcode", "phone", "email")


def digits(text: str | None) -> str:
    return re.sub(r"\D", "", text or "")


def national(number: str) -> str:
    """Digits of a UK number in national form: +44 7700 ... -> 07700 ..."""
    d = digits(number)
    if d.startswith("44") and len(d) >= 11:
        d = "0" + d[2:].removeprefix("0")
    return d


def date_forms(day: date | str | None) -> list[str]:
    """How a date of birth is written in notes: 2012-03-07, 07/03/2012, 7/3/2012, 7 March 2012."""
    if day is None:
        return []
    if isinstance(day, str):
        day = date.fromisoformat(day[:10])
    return [day.isoformat(), f"{day:%d/%m/%Y}", f"{day.day}/{day.month}/{day.year}", f"{day.day} {day:%B %Y}",
            f"{day:%d} {day:%B %Y}"]


def _as_date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _names(person: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(names of 3+ characters, shorter aliases such as 'Ty')."""
    given, family = (person.get("given_name") or "").strip(), (person.get("family_name") or "").strip()
    names = [f"{given} {family}".strip()] if given or family else []
    names += [a.strip() for a in (person.get("aliases") or "").split("|") if a.strip()]
    return [n for n in names if len(n) >= _MIN_GIVEN], [n for n in names if 0 < len(n) < _MIN_GIVEN]


@lru_cache(maxsize=20_000)
def _phrases(address: str) -> frozenset[tuple[str, ...]]:
    """An address's phrases, worked out once per address (a household shares one; a pure function of
    the text, so never stale; bounded, as addresses are personal data held in memory)."""
    return frozenset(address_phrases(address))


@dataclass
class PersonTerms:
    """One person's identifiers, as they may appear in text."""

    person_id: str
    names: list[str] = field(default_factory=list)  # full names and aliases
    given: str = ""
    family: str = ""
    short_aliases: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    phrases: set[tuple[str, ...]] = field(default_factory=set)  # address word sequences
    phones: list[str] = field(default_factory=list)  # digits only, national form
    emails: list[str] = field(default_factory=list)
    postcodes: list[str] = field(default_factory=list)  # no spaces, upper case
    born: date | None = None

    @classmethod
    def of(cls, person: dict[str, Any]) -> "PersonTerms":
        address = (person.get("address") or "").strip()
        addresses = [address] if len(address) >= 6 else []
        if "," in address:
            addresses.append(address.split(",", 1)[0].strip())  # the first line alone
        names, short = _names(person)
        return cls(
            person_id=person["id"],
            names=names,
            given=(person.get("given_name") or "").strip(),
            family=(person.get("family_name") or "").strip(),
            short_aliases=short,
            addresses=[a for a in addresses if len(a) >= 6],
            phrases=_phrases(address),
            phones=[d for d in [national(person.get("phone") or "")] if len(d) >= 7],
            emails=[e.lower() for e in [(person.get("email") or "").strip()] if "@" in e],
            postcodes=[p.replace(" ", "").upper() for p in [(person.get("postcode") or "").strip()] if p],
            born=_as_date(person.get("date_of_birth")),
        )

    @property
    def dates(self) -> list[str]:
        """The date of birth as notes write it (only the subject's is read: computed when asked)."""
        return date_forms(self.born)

    @property
    def initials(self) -> str:
        return (self.given[:1] + self.family[:1]).upper() if self.given and self.family else ""


def _forget_profiles() -> None:
    _phrases.cache_clear()


def store_people(store: "CaseStore", *, chunk: int = 5000) -> list[dict[str, Any]]:
    """Every person the store records except professionals: one set-based read, streamed in chunks."""
    mapped = store.mapping.entity("person")
    fields = [f for f in PERSON_FIELDS if mapped.has(f)]
    query = store.select("person", fields)
    if store.has_field("person", "role"):
        query = query.where(store.raw("person", "role") != store.encode("person", "role", "professional"))
    out: list[dict[str, Any]] = []
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        keys = list(result.keys())
        for part in result.partitions(chunk):
            out.extend(dict(zip(keys, r)) for r in part)  # a RowMapping per row costs twice the read
    return out


def request_people(store: "CaseStore", found: Any, *, requester_person_id: str | None = None) -> "KnownPeople":
    """The people of one request: its family and cases from discovery, and of everyone else in the store
    those its texts could name (:func:`governance.sar.mentions.mentioned_people`), read now."""
    from governance.sar.mentions import mentioned_people

    texts = [t for r in found.records for t in r.fields.values() if isinstance(t, str)]
    return KnownPeople(found.subject, found.people, found.professionals, requester_person_id=requester_person_id,
                       others=mentioned_people(store_people(store), texts))


class KnownPeople:
    """Third parties, the subject and professionals, ready for matching."""

    def __init__(self, subject: dict[str, Any], people: Iterable[dict[str, Any]], professionals: Iterable[dict[str, Any]],
                 *, requester_person_id: str | None = None,
                 others: Iterable[dict[str, Any] | PersonTerms] = ()) -> None:
        from governance.sar.redaction.lexicon import ACRONYMS, diminutives, everyday_names

        people = list(people)
        self.subject = PersonTerms.of(subject)
        self.professionals = [PersonTerms.of(p) for p in professionals]
        excluded = {subject["id"], requester_person_id}
        self.third_parties = [PersonTerms.of(p) for p in people if p["id"] not in excluded and p.get("role") != "professional"]
        self.requester = next((PersonTerms.of(p) for p in people if p["id"] == requester_person_id), None)
        seen = {p["id"] for p in people} | excluded
        # ``others``: store rows, or profiles already cut to what the request's texts mention (request_people).
        self.others = [p if isinstance(p, PersonTerms) else PersonTerms.of(p) for p in others
                       if (p.person_id if isinstance(p, PersonTerms) else p["id"]) not in seen
                       and (isinstance(p, PersonTerms) or p.get("role") != "professional")]
        everyone = self.third_parties + self.others

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
        for t in self.others:
            for name in t.names:
                if name.lower() not in own["names"] and name.lower() not in prof_names:
                    terms.setdefault(name, "known_person_name")
        for t in everyone:
            for email in t.emails:
                if email not in own["emails"]:
                    terms.setdefault(email, "known_person_email")
        self.literal_terms = terms
        # Aliases under three characters ("Ty"): whole words, exact case.
        self.short_aliases = sorted({a for t in everyone for a in t.short_aliases} - {a for a in own["short"]})
        # A given name alone, and its short forms, when it is nobody's protected name part.
        protected_words = {w for n in own["names"] | prof_names for w in n.split()}
        protected_words |= {d for w in lowered([self.subject.given]) for d in diminutives().get(w, ())}
        everyday = everyday_names()
        given: set[str] = set()
        for t in self.third_parties:
            g = t.given.lower()
            if len(g) >= _MIN_GIVEN and g not in protected_words:
                given.add(t.given)
            given |= {d.capitalize() for d in diminutives().get(g, ()) if len(d) >= _MIN_GIVEN
                      and d not in everyday and d not in protected_words}
        self.given_names = sorted(g for g in given if g.lower() not in everyday)  # any case
        self.given_names_exact = sorted(g for g in given if g.lower() in everyday)  # "Lily", not "lily"
        # Initials of the family's third parties ("KP"), unless a word of the trade or the subject's own.
        self.initials = sorted({t.initials for t in self.third_parties if t.initials}
                               - ACRONYMS - {self.subject.initials})
        self.third_party_phones = {p for t in everyone for p in t.phones} - own["phones"]
        # Dates of birth: the family's anywhere; everyone else's next to a cue (see the module docstring).
        self.family_dobs = {t.born for t in self.third_parties if t.born} - own["born"]
        self.other_dobs = {t.born for t in self.others if t.born} - own["born"]
        self.own_dobs = own["born"]
        # Addresses as word sequences; the subject's own, and their street alone, are never phrases.
        self.address_phrases = {p for t in everyone for p in t.phrases} - own["phrases"]
        # Identifiers that are never redacted: the subject's (and requester's) own, professionals' work contacts.
        self.keep_phones = own["phones"] | {p for pr in self.professionals for p in pr.phones}
        self.keep_emails = own["emails"] | {e for pr in self.professionals for e in pr.emails}
        self.keep_postcodes = own["postcodes"]
        self.own_phrases = own["phrases"]
        # The subject's (and requester's) own name words and the short forms of their given name.
        self.own_words = {w for n in own["names"] for w in n.split()} | {
            d for m in own["given"] for d in diminutives().get(m, ())}
        self.protected_names = sorted(n for n in {n for p in self.professionals for n in p.names}
                                      if n.lower() not in third_names)
        self.third_party_words = {w.lower() for t in self.third_parties for n in t.names for w in n.split()}

    @cached_property
    def memo_key(self) -> tuple:
        """Everything the matchers are built from: equal keys, equal answers (see redaction/memo.py)."""
        return (frozenset(self.literal_terms.items()), tuple(self.given_names), tuple(self.given_names_exact),
                tuple(self.short_aliases), tuple(self.initials), frozenset(self.third_party_phones),
                frozenset(self.family_dobs), frozenset(self.other_dobs), frozenset(self.own_dobs),
                frozenset(self.address_phrases), frozenset(self.own_phrases), frozenset(self.keep_phones),
                frozenset(self.keep_emails), frozenset(self.keep_postcodes), tuple(self.protected_names),
                frozenset(self.own_words), frozenset(t.given.lower() for t in self.others))

    @cached_property
    def address_matcher(self) -> re.Pattern[str] | None:
        return address_pattern(self.address_phrases)

    def _own_terms(self) -> dict[str, set]:
        mine = [self.subject] + ([self.requester] if self.requester else [])
        phrases = {p for m in mine for p in m.phrases}
        # The subject's own street alone, even from a fuller address.
        phrases |= {s for m in mine for p in m.phrases if (s := street_of(p))}
        return {
            "names": {n.lower() for m in mine for n in m.names},
            "given": {m.given.lower() for m in mine if m.given},
            "short": {a for m in mine for a in m.short_aliases},
            "addresses": {a.lower() for m in mine for a in m.addresses},
            "emails": {e for m in mine for e in m.emails},
            "phones": {p for m in mine for p in m.phones},
            "postcodes": {p for m in mine for p in m.postcodes},
            "dates": {d for d in self.subject.dates},
            "born": {m.born for m in mine if m.born},
            "phrases": phrases,
        }

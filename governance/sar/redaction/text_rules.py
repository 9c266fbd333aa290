"""Span rules: people the store knows, and patterns for people it does not.

Known people (DPA 2018 Sch. 2 Part 3 para 16), see :mod:`governance.sar.people`: full names and
aliases (any length), e-mails, phones (any spacing, brackets or +44) and addresses (as word
sequences) of everyone the store records except the subject; for the subject's family and cases
also given names alone, their short forms, initials and dates of birth in any British format.
Patterns, for people the store does not know: UK phone numbers, e-mail addresses, postcodes,
National Insurance numbers, NHS numbers (with their modulus-11 check digit, so an arbitrary
ten-digit number is left alone), a date of birth after a cue ("DOB", "born"), and street addresses
(a number and a street, or a flat in a named building). The subject's own identifiers and
professionals' work contacts are kept. Names of people the store does not know: :mod:`.names`.
"""

from __future__ import annotations

import re
from functools import lru_cache

from governance.sar.discovery import Record
from governance.sar.exemptions import THIRD_PARTY
from governance.sar.people import digits, national
from governance.sar.redaction.dates import dates_in, dob_cues
from governance.sar.redaction.base import Redaction, RedactionContext, RedactionRule, register_rule
from governance.sar.redaction.memo import SpanMemo, context_number, on_forget

__all__ = ["KnownPeopleRule", "PatternRule", "DateOfBirthRule", "PHONE", "EMAIL", "POSTCODE", "NI_NUMBER",
           "NHS_NUMBER", "STREET_ADDRESS", "nhs_valid", "phones_in"]

# A UK number in any spacing: 07700 900123, 0113-496-0222, (020) 7946 0958, +44 (0)20 7946 0958.
PHONE = re.compile(r"(?:\+(?<![\w+]\+)44\s?(?:\(0\)\s?)?\d|\((?<![\w+]\()0\d{2,4}\)|0(?<![\w+]0)\d)(?:[\s-]?\d|\s?\)?\s?\d){5,10}(?!\d)")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b")
# Any two prefix letters: fictional and unissued prefixes are redacted too.
NI_NUMBER = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
NHS_NUMBER = re.compile(r"(?<![\d-])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\d-])")
_STREET = r"(?:Road|Rd|Street|St|Avenue|Ave|Close|Drive|Lane|Terrace|Crescent|Court|Gardens|Grove|Way|Walk|Rise|Mews|Square|Place|Row|Hill|View|Side|Parade)"
_BUILDING = r"(?:House|Court|Lodge|Mansions|Tower|Point|Heights)"
_CAP = r"[A-Z][a-z'’]+"
STREET_ADDRESS = re.compile(
    rf"(?:[Ff]lat|[Aa]partment|[Uu]nit)\s+\d+[A-Za-z]?,?\s+{_CAP}(?:\s+{_CAP})?\s+{_BUILDING}\b(?:,?\s+\d+[A-Za-z]?,?\s+{_CAP}(?:\s+{_CAP}){{0,2}}\s+{_STREET}\b)?"
    rf"|\d(?<![\w/.-]\d)\d{{0,3}}[A-Za-z]?,?\s+{_CAP}(?:\s+{_CAP}){{0,2}}\s+{_STREET}\b"
    r"(?!\s+(?:Academy|Primary|School|College|Nursery|Surgery|Centre|Hospital|Clinic|Park|Estate|Church))"
)


def nhs_valid(number: str) -> bool:
    """Modulus-11 check of a ten-digit NHS number."""
    d = digits(number)
    if len(d) != 10:
        return False
    check = 11 - sum(int(x) * w for x, w in zip(d[:9], range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(d[9])


@lru_cache(maxsize=8)
def phones_in(text: str) -> tuple[tuple[int, int, str], ...]:
    """(start, end, national digits) of every UK phone number in ``text`` (kept for the next rule)."""
    out = []
    for m in PHONE.finditer(text):
        number = national(m.group())
        if len(number) in (10, 11) and number.startswith("0"):
            out.append((m.start(), m.end(), number))
    return tuple(out)


def _remembered(rule: RedactionRule, record: Record, context: RedactionContext, find) -> list[Redaction]:
    """``rule``'s spans of each text field of ``record``: ``find(text)`` once per people and text (see memo.py)."""
    number = context.learned.get("memo:people")
    if number is None:
        number = context.learned["memo:people"] = context_number(context.people.memo_key)
    memo = _MEMOS.get(rule.name) or _MEMOS.setdefault(rule.name, SpanMemo())
    entity, record_id, name = record.entity, record.record_id, rule.name
    return [Redaction(entity, record_id, field, s, e, THIRD_PARTY, sub or name)
            for field, text in record.fields.items() if text
            for s, e, sub in memo.spans(number, text, find)]


_MEMOS: dict[str, SpanMemo] = {}


class KnownPeopleRule(RedactionRule):
    """Names, aliases, initials, addresses, e-mails, dates of birth and phones of known third parties."""

    name = "known_people"
    codes = (THIRD_PARTY,)

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        return _remembered(self, record, context, lambda text: self._spans(text, context))

    @staticmethod
    def _spans(text: str, context: RedactionContext) -> tuple[tuple[int, int, str], ...]:
        people = context.people
        literal, rules = context.literal_pattern, context.literal_rules
        given, addresses = context.given_pattern, people.address_matcher
        out: list[tuple[int, int, str]] = []
        if literal is not None:
            out += [(m.start(), m.end(), rules.get(m.group()) or rules.get(" ".join(m.group().split()), "known_person"))
                    for m in literal.finditer(text)]
        if given is not None:
            out += [(m.start(), m.end(), "known_person_given_name") for m in given.finditer(text)]
        if addresses is not None:
            out += [(m.start(), m.end(), "known_person_address") for m in addresses.finditer(text)]
        out += [(s, e, "known_person_phone") for s, e, number in phones_in(text) if number in people.third_party_phones]
        cues = dob_cues(text) if people.other_dobs else ()
        if people.family_dobs or cues:
            for s, e, days in dates_in(text):
                cued = any(0 <= s - c <= 40 for c in cues)
                if any(d in people.family_dobs or (cued and d in people.other_dobs) for d in days):
                    out.append((s, e, "known_person_dob"))
        return tuple(out)


class DateOfBirthRule(RedactionRule):
    """A date written just after "DOB", "born", "date of birth": someone's date of birth, unless the subject's."""

    name = "pattern_date_of_birth"
    codes = (THIRD_PARTY,)

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        return _remembered(self, record, context, lambda text: self._spans(text, context.people.own_dobs))

    @staticmethod
    def _spans(text: str, own) -> tuple[tuple[int, int, str], ...]:
        cues = dob_cues(text)
        if not cues:
            return ()
        return tuple((s, e, "") for s, e, days in dates_in(text)
                     if any(0 <= s - c <= 40 for c in cues) and not any(d in own for d in days))


class PatternRule(RedactionRule):
    """Identifiers of people the store does not know, found by their format."""

    def __init__(self, name: str, pattern: re.Pattern[str], kind: str) -> None:
        self.name = name
        self.pattern = pattern
        self.kind = kind
        self.codes = (THIRD_PARTY,)

    def _keep(self, match: str, context: RedactionContext) -> bool:
        people = context.people
        if self.kind == "phone":
            number = national(match)
            return len(number) not in (10, 11) or number in people.keep_phones
        if self.kind == "email":
            return match.lower() in people.keep_emails
        if self.kind == "postcode":
            return match.replace(" ", "").upper() in people.keep_postcodes
        if self.kind == "nhs":
            return not nhs_valid(match)
        if self.kind == "address":
            from governance.sar.addresses import address_phrases

            return bool(address_phrases(match) & people.own_phrases) or match.lower().startswith(tuple(
                " ".join(p) for p in people.own_phrases))
        return False

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        return _remembered(self, record, context, lambda text: self._spans(text, context))

    def _spans(self, text: str, context: RedactionContext) -> tuple[tuple[int, int, str], ...]:
        if self.kind == "phone":  # the numbers known_people read already
            keep = context.people.keep_phones
            return tuple((s, e, "") for s, e, number in phones_in(text) if number not in keep)
        return tuple((m.start(), m.end(), "") for m in self.pattern.finditer(text) if not self._keep(m.group(), context))


register_rule(KnownPeopleRule())
register_rule(DateOfBirthRule())
for _name, _pattern, _kind in (
    ("pattern_phone", PHONE, "phone"),
    ("pattern_email", EMAIL, "email"),
    ("pattern_postcode", POSTCODE, "postcode"),
    ("pattern_ni_number", NI_NUMBER, "ni"),
    ("pattern_nhs_number", NHS_NUMBER, "nhs"),
    ("pattern_street_address", STREET_ADDRESS, "address"),
):
    register_rule(PatternRule(_name, _pattern, _kind))
on_forget(phones_in.cache_clear)

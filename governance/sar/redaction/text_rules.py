"""Span rules: people the store knows, and patterns for people it does not.

Known people (DPA 2018 Sch. 2 Part 3 para 16): full names and aliases,
addresses, e-mails and dates of birth of everyone on the subject's cases or in
their family except the subject; given names alone; their phone numbers in
any spacing. Patterns, for people the store does not know: UK phone numbers,
e-mail addresses, postcodes, National Insurance numbers and NHS numbers (with
their modulus-11 check digit, so an arbitrary ten-digit number is left alone).
The subject's own identifiers and professionals' work contacts are kept.
"""

from __future__ import annotations

import re

from governance.sar.discovery import Record
from governance.sar.exemptions import THIRD_PARTY
from governance.sar.people import digits
from governance.sar.redaction.base import Redaction, RedactionContext, RedactionRule, register_rule

__all__ = ["KnownPeopleRule", "PatternRule", "PHONE", "EMAIL", "POSTCODE", "NI_NUMBER", "NHS_NUMBER", "nhs_valid"]

PHONE = re.compile(r"(?<![\w+])(?:\+44\s?(?:\(0\)\s?)?|0)\d(?:[\s-]?\d){8,9}(?!\d)")
EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[ABD-HJLNP-UW-Z]{2}\b")
# Any two prefix letters: fictional and unissued prefixes are redacted too.
NI_NUMBER = re.compile(r"\b[A-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b")
NHS_NUMBER = re.compile(r"(?<![\d-])\d{3}[\s-]?\d{3}[\s-]?\d{4}(?![\d-])")


def nhs_valid(number: str) -> bool:
    """Modulus-11 check of a ten-digit NHS number."""
    d = digits(number)
    if len(d) != 10:
        return False
    check = 11 - sum(int(x) * w for x, w in zip(d[:9], range(10, 1, -1))) % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(d[9])


class KnownPeopleRule(RedactionRule):
    """Names, aliases, addresses, e-mails, dates of birth and phones of known third parties."""

    name = "known_people"
    codes = (THIRD_PARTY,)

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        out: list[Redaction] = []
        literal, rules = context.literal_pattern, context.literal_rules
        for field, text in record.fields.items():
            if not text:
                continue
            if literal is not None:
                out += [self.span(record, field, m.start(), m.end(), THIRD_PARTY, rules.get(m.group().lower(), "known_person"))
                        for m in literal.finditer(text)]
            if context.given_pattern is not None:
                out += [self.span(record, field, m.start(), m.end(), THIRD_PARTY, "known_person_given_name")
                        for m in context.given_pattern.finditer(text)]
            if context.phone_pattern is not None:
                out += [self.span(record, field, m.start(), m.end(), THIRD_PARTY, "known_person_phone")
                        for m in context.phone_pattern.finditer(text)]
        return out


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
            number = digits(match)
            national = "0" + number[2:] if number.startswith("44") else number
            return national in people.keep_phones
        if self.kind == "email":
            return match.lower() in people.keep_emails
        if self.kind == "postcode":
            return match.replace(" ", "").upper() in people.keep_postcodes
        if self.kind == "nhs":
            return not nhs_valid(match)
        return False

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        return [
            self.span(record, field, m.start(), m.end(), THIRD_PARTY)
            for field, text in record.fields.items() if text
            for m in self.pattern.finditer(text)
            if not self._keep(m.group(), context)
        ]


register_rule(KnownPeopleRule())
for _name, _pattern, _kind in (
    ("pattern_phone", PHONE, "phone"),
    ("pattern_email", EMAIL, "email"),
    ("pattern_postcode", POSTCODE, "postcode"),
    ("pattern_ni_number", NI_NUMBER, "ni"),
    ("pattern_nhs_number", NHS_NUMBER, "nhs"),
):
    register_rule(PatternRule(_name, _pattern, _kind))

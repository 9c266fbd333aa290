"""Which of the store's people a request's texts could name: the store-wide lookup, cut to the request.

Finding third parties in free text needs everyone the store records (``KnownPeople.others``), but
profiling 71,000 people for every build of one request took seconds (docs/sar.md, Benchmark). A
person outside the subject's family and cases changes a request's redactions only through a term
that occurs in its texts, so :func:`mentioned_people` keeps only the people who *could* be
mentioned, by a necessary condition that is cheap to test:

- a name, alias, e-mail or given name is matched as whole words on the folded text (word
  boundaries both sides, :mod:`governance.sar.redaction.trie`; the name recogniser reads given
  names as lower-cased words of the text), so every run of word characters in it is a run of word
  characters of some text;
- an address phrase is a sequence of address words matched whole (:mod:`governance.sar.addresses`),
  the last one perhaps in its short form (Rd for Road): the same test per word;
- a phone counts only as a number the phone rule reads in a text (:func:`phones_in`), a date of birth
  only as a date the date rule reads (:func:`dates_in`): the person's must be among them.

A person for whom none of these holds adds no match to any text of the request, so leaving them out
of ``others`` changes no redaction (``tests/sar/test_lookup_current.py`` checks the result equals
the full lookup's). Each row is read as it stands (:meth:`Mentions.row_terms`): a full name only
when its given and family names both occur, an address only when one of its telling words does
(each such string decided once per request), so the 71,000 people of a 20,000-family store cost a
dictionary probe or two each, not a profile.

Why it cannot go stale: nothing of the store is kept between builds. Every build reads every
person row afresh (``store_people``) and decides on those rows; what is remembered across builds
is an address's phrases, keyed by the address text (a pure function of it), so a new, changed or
deleted person is decided on the row as it stands: the next build sees them as the store holds them.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from governance.sar.addresses import BUILDING_WORDS, STREET_WORDS, _words
from governance.sar.people import PersonTerms, _as_date, _forget_profiles, _names, _phrases, national
from governance.sar.redaction.memo import on_forget
from governance.sar.redaction.dates import dates_in
from governance.sar.redaction.text_rules import phones_in
from governance.sar.redaction.trie import fold

__all__ = ["Mentions", "mentioned_people"]

_RUN = re.compile(r"\w+")
_LETTERS = re.compile(r"[a-z]+")


def _runs(text: str) -> set[str]:
    """Runs of word characters, lower-cased and folded, and runs of ASCII letters: the name recogniser
    reads a lower-case word as ASCII letters (``names._TOKEN``), so "josé" is also "jos" to it."""
    folded = fold(text)
    return set(_RUN.findall(text.lower())) | set(_RUN.findall(folded)) | set(_LETTERS.findall(folded))


class Mentions:
    """Word runs (lower-cased and folded), phone numbers and dates read in a request's texts."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.words: set[str] = set()
        self.phones: set[str] = set()
        self.days: set = set()
        self._seen: dict = {}  # term or phrase -> whether it could occur
        for text in texts:
            if not text:
                continue
            self.words |= _runs(text)
            self.phones.update(number for _, _, number in phones_in(text))
            self.days.update(d for _, _, days in dates_in(text) for d in days)

    def has_words(self, term: str) -> bool:
        known = self._seen.get(term)
        if known is None:
            runs = _RUN.findall(term.lower())
            known = self._seen[term] = bool(runs) and all(r in self.words for r in runs)
        return known

    def has_phrase(self, phrase: tuple[str, ...]) -> bool:
        known = self._seen.get(phrase)
        if known is None:  # households and streets repeat: each phrase is decided once per request
            *head, last = phrase
            short = STREET_WORDS.get(last)
            known = self._seen[phrase] = all(self.has_words(w) for w in head) and (
                self.has_words(last) or bool(short and short in self.words))
        return known

    def address_terms(self, address: str) -> frozenset[tuple[str, ...]]:
        """The phrases of ``address`` that could occur. Every phrase holds whole parts, or a part less its
        numbers (:func:`governance.sar.addresses.address_phrases`), so when each part has a word that is
        not a number nor a street word, a phrase that occurs holds one of those words: none in the texts,
        no phrase to work out."""
        known = self._seen.get(("address", address))
        if known is None:
            parts = _address_parts(address)
            if parts and all(parts) and not any(self.has_words(w) for part in parts for w in part):
                known = frozenset()
            else:
                known = frozenset(p for p in _phrases(address) if self.has_phrase(p))
            self._seen[("address", address)] = known
        return known

    def row_terms(self, person: dict[str, Any]) -> PersonTerms | None:
        """``person``'s profile (:meth:`PersonTerms.of`) with only the identifiers that could occur in the
        texts, or None if none could; read from the row, so nobody is profiled in full. Each identifier
        adds its own matches (a name to the literal terms, a phrase to the address matcher...), so one
        that cannot occur is left out without changing a redaction."""
        given = (person.get("given_name") or "").strip()
        family = (person.get("family_name") or "").strip()
        names: list[str] = []
        short: list[str] = []
        if person.get("aliases") or ((not given or self.has_words(given)) and (not family or self.has_words(family))):
            # A full name's words are its given and family names' words: both must occur, or an alias.
            full, brief = _names(person)
            names = [n for n in full if self.has_words(n)]
            short = [a for a in brief if self.has_words(a)]
        born = _as_date(person.get("date_of_birth")) if self.days else None
        phones = [n for n in [national(person.get("phone") or "")] if len(n) >= 7 and n in self.phones] if self.phones else []
        email = (person.get("email") or "").strip()
        address = (person.get("address") or "").strip()
        kept = PersonTerms(
            person_id=person["id"], names=names, given=given if given and self.has_words(given) else "",
            family=family, short_aliases=short, phrases=set(self.address_terms(address)) if address else set(),
            phones=phones, emails=[email.lower()] if "@" in email and self.has_words(email) else [],
            born=born if born is not None and born in self.days else None)
        if kept.names or kept.given or kept.short_aliases or kept.phrases or kept.phones or kept.emails or kept.born:
            return kept
        return None


def mentioned_people(people: Iterable[dict[str, Any]], texts: Iterable[str]) -> list[PersonTerms]:
    """Of ``people`` (store rows), those whose identifiers could occur in ``texts``, each with only
    those identifiers (see the module docstring). Read from the row directly: a person no text names
    is never profiled, and strings shared by many people (given names, streets) are decided once."""
    mentions = Mentions(texts)
    return [kept for p in people if (kept := mentions.row_terms(p)) is not None]


def _address_parts(address: str) -> list[list[str]]:
    """The words of each comma-separated part of ``address`` that are neither numbers nor street,
    building or flat words (a part with none: an empty list)."""
    return [[w for w in words if not w.isdigit() and w not in _GENERIC] for words in map(_words, address.split(","))
            if words]


_GENERIC = set(STREET_WORDS) | {v for v in STREET_WORDS.values() if v} | BUILDING_WORDS | {"flat", "apartment", "unit"}


on_forget(_forget_profiles)  # a benchmark's cold pass profiles everyone again

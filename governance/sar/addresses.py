"""Addresses as normalised word sequences, so a note that drops the commas still matches.

"Flat 3, Beech House, 14 Sandown Road, Fenwick" gives the phrases a note may use: the whole run
without the town ("flat 3 beech house 14 sandown road"), each part and each run of adjacent parts
("beech house", "14 sandown road", "flat 3 beech house"), and the street alone ("sandown road").
A part that is only a flat number, or only a town, is too common to mean one household and is not
a phrase on its own. Street words have their usual short forms (Rd, St, Ave...).
"""

from __future__ import annotations

import re

__all__ = ["address_phrases", "street_of", "STREET_WORDS", "BUILDING_WORDS", "address_pattern"]

STREET_WORDS = {"road": "rd", "street": "st", "avenue": "ave", "close": "cl", "drive": "dr", "lane": "ln",
                "terrace": "terr", "crescent": "cres", "court": "ct", "gardens": "gdns", "grove": "gr", "way": "",
                "walk": "", "rise": "", "view": "", "mews": "", "square": "sq", "place": "pl", "row": "",
                "hill": "", "side": "", "parade": "", "green": "", "park": ""}
BUILDING_WORDS = {"house", "court", "lodge", "mansions", "tower", "point", "heights", "flats", "buildings"}
_WORD = re.compile(r"[a-z0-9]+(?:['’][a-z]+)?")


def _words(part: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(part.lower()))


def _is_street(words: tuple[str, ...]) -> bool:
    return bool(words) and words[-1] in STREET_WORDS


def _meaningful(words: tuple[str, ...]) -> bool:
    """A part that says which household: has a number with more than 'flat', or names a street or building."""
    if not words:
        return False
    if words[0] in ("flat", "apartment", "unit") and len(words) <= 2:
        return False
    return any(w[0].isdigit() for w in words) or words[-1] in STREET_WORDS or words[-1] in BUILDING_WORDS


def street_of(words: tuple[str, ...]) -> tuple[str, ...] | None:
    """'14 sandown road' -> 'sandown road'."""
    rest = tuple(w for w in words if not w[0].isdigit())
    return rest if len(rest) >= 2 and _is_street(rest) else None


def address_phrases(address: str | None) -> set[tuple[str, ...]]:
    """Word sequences naming this address (see the module docstring)."""
    if not address:
        return set()
    parts = [_words(p) for p in address.split(",")]
    if len(parts) == 1:  # no commas: treat the words before a street word's end as one part
        parts = [parts[0]]
    keep = [p for p in parts if p]
    # Drop a trailing town: the last part when it is neither a street, a building nor numbered.
    while keep and not _meaningful(keep[-1]) and len(keep) > 1:
        keep.pop()
    phrases: set[tuple[str, ...]] = set()
    for i in range(len(keep)):
        for j in range(i + 1, len(keep) + 1):
            run = tuple(w for p in keep[i:j] for w in p)
            if j - i > 1 or _meaningful(keep[i]):
                phrases.add(run)
    whole = tuple(w for p in parts for w in p)
    if len(whole) > 2 and len(keep) < len(parts):
        phrases.add(whole)  # with the town: "5 quarry close fenwick"
    for p in keep:
        street = street_of(p)
        if street:
            phrases.add(street)
    return {p for p in phrases if len(p) >= 2}


def _variants(words: tuple[str, ...]) -> list[tuple[str, ...]]:
    short = STREET_WORDS.get(words[-1]) if words else None
    return [words, words[:-1] + (short,)] if short else [words]


def address_pattern(phrases: set[tuple[str, ...]]):
    """One case-blind matcher for every phrase, words separated by spaces, commas or full stops."""
    from governance.sar.redaction.trie import WordMatcher, trie_source

    items = [v for p in phrases for v in _variants(p)]
    source = trie_source(items, joiner=r"[\s,.]+", word_start=True)
    return WordMatcher(rf"(?:{source})(?!\w)", case_blind=True) if source else None

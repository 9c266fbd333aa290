"""Many literal strings as one regular expression, shaped as a trie (built once, matched at C speed).

A plain alternation of thousands of names makes the regex engine try every branch at every
position; a trie shares prefixes, so each position costs a few character tests whatever the
number of strings. Strings are sequences of units (characters, or words for addresses); a space
inside a unit sequence matches any run of whitespace, and ``joiner`` goes between units.

Two measured rules keep Python's engine fast (about ten times, on casenotes): case is folded by
lower-casing the text once (:func:`fold`, same length, so offsets hold) rather than with
``re.IGNORECASE``; and a pattern opens with plain characters, not ``\b`` or a look-behind (see
``word_start``).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator, Sequence

from governance.sar.redaction.memo import on_forget

__all__ = ["trie_source", "compile_words", "WordMatcher", "AnyOf", "fold"]

_END = ""
_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}


@lru_cache(maxsize=8)
def fold(text: str) -> str:
    """``text`` lower-cased, same length (non-ASCII text is folded for A-Z only); the last few are kept,
    as every rule folds the same field in turn."""
    return text.lower() if text.isascii() else text.translate(_ASCII_LOWER)


on_forget(fold.cache_clear)


def _unit(unit: str) -> str:
    return r"\s+" if unit == " " else re.escape(unit)


def trie_source(items: Iterable[Sequence[str]], joiner: str = "", word_start: bool = False) -> str | None:
    """Regex source matching any of ``items`` (each a sequence of units), longest first at each branch.

    ``word_start``: match only where no word character precedes. The check follows the first unit
    (``(?<!\w.)`` after a one-character unit) so the pattern still opens with plain characters, which
    the regex engine scans for quickly; a leading ``\b`` or look-behind is tried at every position.
    """
    root: dict = {}
    for item in items:
        if not item:
            continue
        node = root
        for unit in item:
            node = node.setdefault(unit, {})
        node[_END] = {}
    if not root:
        return None

    def build(node: dict, first: bool) -> str:
        branches = []
        for unit in sorted(k for k in node if k != _END):
            child = node[unit]
            rest = build(child, False) if any(k != _END for k in child) else ""
            guard = f"(?<!\\w{'.' * len(unit)})" if first and word_start else ""
            branches.append(("" if first else joiner) + _unit(unit) + guard + rest)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if _END in node else body

    return build(root, True)


class WordMatcher:
    """Whole words or phrases: ``finditer`` yields matches on ``text`` (folded first when case-blind)."""

    def __init__(self, source: str, case_blind: bool) -> None:
        self.regex = re.compile(source)
        self.case_blind = case_blind

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        return self.regex.finditer(fold(text) if self.case_blind else text)


@lru_cache(maxsize=64)
def compile_words(words: frozenset[str], case_blind: bool = True, suffix: str = "") -> WordMatcher | None:
    """One matcher for whole words or phrases (``suffix``, e.g. a possessive, may follow); cached per word set.

    A match's offsets are the text's; with ``case_blind`` its ``group()`` is the folded text.
    """
    source = trie_source(sorted({w.lower() for w in words} if case_blind else words), word_start=True)
    return WordMatcher(rf"(?:{source}){suffix}(?!\w)", case_blind) if source else None


class AnyOf:
    """Several matchers as one ``finditer`` (the caller does not depend on the order of matches)."""

    def __init__(self, *matchers) -> None:
        self.matchers = [m for m in matchers if m is not None]

    def finditer(self, text: str):
        for m in self.matchers:
            yield from m.finditer(text)


"""Many literal strings as one regular expression, shaped as a trie (built once, matched at C speed).

A plain alternation of thousands of names makes the regex engine try every branch at every
position; a trie shares prefixes, so each position costs a few character tests whatever the
number of strings. Strings are sequences of units (characters, or words for addresses); a space
inside a unit sequence matches any run of whitespace, and ``joiner`` goes between units.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Sequence

__all__ = ["trie_source", "compile_words"]

_END = ""


def _unit(unit: str) -> str:
    return r"\s+" if unit == " " else re.escape(unit)


def trie_source(items: Iterable[Sequence[str]], joiner: str = "") -> str | None:
    """Regex source matching any of ``items`` (each a sequence of units), longest first at each branch."""
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
            branches.append(("" if first else joiner) + _unit(unit) + rest)
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if _END in node else body

    return build(root, True)


@lru_cache(maxsize=64)
def compile_words(words: frozenset[str], flags: int = re.IGNORECASE) -> re.Pattern[str] | None:
    """One pattern for whole words or phrases (no word character either side); cached per word set."""
    source = trie_source(sorted(words))
    return re.compile(rf"(?<!\w)(?:{source})(?!\w)", flags) if source else None

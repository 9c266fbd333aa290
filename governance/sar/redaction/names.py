"""Names of people the store does not know, found in free text without a store lookup.

A name is proposed by one of four cues, then tested against what must stay:

- a title: "Mrs Okonjo", "mr doyle" (Dr is a role, not a title here: doctors act in role);
- a relationship word before or after it: "her partner Kev", "nan Pat", "Kev, mum's new boyfriend",
  "an older lad called Liam Cartwright";
- a given-name lexicon (:mod:`.lexicon`): "Tyrese", "darren" (lower case too, unless the name is
  also a word: "will", "grace");
- what the request's other records taught (:meth:`NameRecogniser.prepare`): a name once written
  with a relationship cue is a private person everywhere in the request; a name once written
  with a role ("Jo (FSW)", "DSL Mrs Akhtar"), or a professional the store records, is kept
  everywhere, as a careful human redactor would.

Kept: professionals acting in role (a role word next to the name, "from" an organisation, or
learned as above), the subject's own names and their short forms, organisations and places (a
capitalised run containing Primary, Academy, Road, Park, Centre..., or after "St"), and names that
are everyday words ("summer holidays", "May half term", "Grace period") unless something says a
person is meant (a title, a relationship, a surname after it, a verb of saying).

No statistical model: on the hand-written corpus spaCy's small English model (through Presidio)
redacted two thirds of the strings that must stay, at 8 kB/s (docs/sar.md). A deployment that wants
one registers another rule; nothing here is fetched at run time.

Speed: every cue word is found in one pass of a trie-shaped regex over the lower-cased text; what
each text teaches is computed once per text (``_learn``) and reused by ``apply``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterator, Sequence

from governance.sar.discovery import Record
from governance.sar.exemptions import THIRD_PARTY
from governance.sar.redaction import lexicon as lx
from governance.sar.redaction.base import Redaction, RedactionContext, RedactionRule, register_rule
from governance.sar.redaction.memo import SpanMemo, context_number, on_forget
from governance.sar.redaction.trie import WordMatcher, compile_words, fold, trie_source

__all__ = ["NameRecogniser", "find_names"]


def _alt(words) -> str:
    """An alternation of words as a trie (the regex engine tests a few characters, not every word)."""
    return trie_source(sorted({w.lower() for w in words}))


_TOKEN = r"[a-z][a-z'’-]*"  # scanning patterns run on folded text (trie.fold); case is read from the original
_CAP = r"[A-Z][A-Za-z'’-]*"
_TITLES = "(?:mr|mrs|ms|miss|mx|dr)"
_RELATIONS = _alt(lx.RELATIONS)
_ROLE = _alt(lx.ROLES)
# Not a pet's name: "a dog called Biscuit".
_PET_BEFORE = re.compile(r"(?:dog|cat|puppy|kitten|hamster|rabbit|horse|pony|fish|snake|bird|parrot)\s+$")
# "Kev, mum's new boyfriend" / "Darren (Leanne's ex)": the mark after the name; the name is the word before it.
APPOSITION_MARK = re.compile(
    rf"[,(]\s*(?:(?:her|his|their|my|the|a|mum's|dad's|mums|dads|[a-z]+'s)\s+)?"
    rf"(?:(?:new|ex|old|older|younger|little|best|current|former)\s*-?\s*)?(?:{_RELATIONS})(?![\w-])")
_WORD_BEFORE = re.compile(rf"(?P<name>{_CAP})\s*$")
# Role marks after a name: "Jo (FSW)", "Mr Evans, head of year", "Janice (Home-Start volunteer)".
ROLE_MARK = re.compile(
    rf"\([^)]{{0,30}}(?<!\w)(?:{_ROLE})\)|\(\s*(?:the\s+)?(?:{_ROLE})(?!\w)|,\s*(?:the\s+|our\s+|a\s+)?(?:{_ROLE})(?!\w)")
ROLE_AFTER = re.compile(rf"\s*(?:{ROLE_MARK.pattern})")
# "Sam Pryce from Fenwick Recovery Service", "Jo (Home-Start)": in role, unless a relationship said otherwise.
FROM_ORG_AFTER = re.compile(r"^(?:\s+(?:from|at)\s+(?:the\s+)?[A-Z]|\s*\(\s*[A-Z][A-Za-z&' -]+\))")
NEXT_CAP = re.compile(rf"\s+(?P<w>{_CAP})")
_CAP_AT = re.compile(_CAP)
SAY = frozenset("said says told asked rang phoned called texted stated reported explained wants wanted was is has had "
                "came went attended disclosed agreed refused shouted".split())
_RELATION_WORDS = frozenset(w for r in lx.RELATIONS for w in r.split())
_RELATION_IN = re.compile(rf"(?<!\w)(?:{_RELATIONS})(?![\w-])")
_ORG_BEFORE = re.compile(r"\b(?:St|Saint|Holy|Our)\.?\s+$")


def _scan(pattern: re.Pattern[str], folded: str) -> Iterator[re.Match[str]]:
    return pattern.finditer(folded)  # every scanning pattern opens with \b, "(" or ","


def _names_before(mark: re.Pattern[str], text: str, folded: str) -> Iterator[tuple[int, int]]:
    """For each ``mark``, the capitalised word just before it: (start, end)."""
    for m in _scan(mark, folded):
        before = _WORD_BEFORE.search(text, max(0, m.start() - 40), m.start())
        if before:
            yield before.start("name"), before.end("name")


_CALLED_WORDS = ("called", "named", "introduced as", "known as")
_KIND = {**{w: "role" for w in lx.ROLES}, **{w: "relation" for w in lx.RELATIONS},
         **{w: "called" for w in _CALLED_WORDS}, **{w: "title" for w in lx.TITLES}}
# Every cue word in one pass (a trie), then the words after it are read with a small anchored pattern.
_CUE = re.compile(rf"(?P<key>{trie_source(sorted(_KIND), word_start=True)})(?![\w-])")
_TAIL = {
    "title": re.compile(rf"\.?\s+(?P<name>{_TOKEN})"),
    "relation": re.compile(rf"(?:\s+(?:called|named|is|was))?(?:\s*[,:-]\s*|\s+)[\"“']?(?P<name>{_TOKEN})"),
    "called": re.compile(rf"\s+[\"“']?(?P<name>{_TOKEN})"),
    "role": re.compile(rf"\)?\s*[:\-,]?\s*(?:{_TITLES}\.?\s+)?(?P<name>[a-z])"),
}


class Cues:
    """What the cue words of one text introduce: named words (start, end, cue) and names right after a role."""

    __slots__ = ("named", "role_starts")

    def __init__(self, text: str, folded: str) -> None:
        self.named: list[tuple[int, int, str]] = []
        self.role_starts: set[int] = set()
        for m in _CUE.finditer(folded):
            kind = _KIND[" ".join(m.group("key").split())]
            tail = _TAIL[kind].match(folded, m.end())
            if tail is None:
                continue
            s, e = tail.start("name"), tail.end("name")
            if kind == "role":
                self.role_starts.add(s)
            elif kind != "called" or (text[s].isupper() and not _PET_BEFORE.search(folded, max(0, m.start() - 12), m.start())):
                self.named.append((s, e, kind))
        self.named += [(s, e, "apposition") for s, e in _names_before(APPOSITION_MARK, text, folded)]


_NEXT_WORD = re.compile(r"\s+([a-z]+)")


def _said_next(text: str, end: int) -> bool:
    m = _NEXT_WORD.match(text, end)
    return m is not None and m.group(1) in SAY


def _word(token: str) -> str:
    w = token.lower().replace("’", "'")
    for suffix in ("'s", "'"):
        if w.endswith(suffix):
            return w[: -len(suffix)]
    return w


@lru_cache(maxsize=16)
def _possessive(words: frozenset[str]) -> WordMatcher | None:
    """Whole words, with an optional possessive ("Pauline's": the 's belongs to the name)."""
    return compile_words(words, True, "(?:['’]s)?")


@lru_cache(maxsize=50_000)
def _learn(text: str) -> tuple[Cues, frozenset[str], frozenset[str]]:
    """A text's cues, the names it gives a relationship and the names it gives a role (depends on the text only)."""
    folded = fold(text)
    cues = Cues(text, folded)
    third = {_word(text[s:e]) for s, e, cue in cues.named
             if cue != "title" and text[s].isupper() and not text[s:e].isupper()}
    prof = set()
    for start in cues.role_starts:
        token = _CAP_AT.match(text, start)
        if token:
            prof.add(_word(token.group()))
    prof.update(_word(text[s:e]) for s, e in _names_before(ROLE_MARK, text, folded))
    return cues, frozenset(third), frozenset(prof)


class _Finder:
    def __init__(self, context: RedactionContext, learned: tuple[frozenset[str], frozenset[str]]) -> None:
        people = context.people
        self.third, self.prof = learned
        self.own = {w.lower() for w in people.own_words}
        self.everyday = lx.everyday_names()
        others_given = {t.given.lower() for t in people.others if len(t.given) >= 3}
        # Known third parties' given names: the known_people rule redacts them wherever they are.
        self.known = {n.lower() for n in people.given_names} | {n.lower() for n in people.given_names_exact}
        extra = (frozenset(others_given) | self.third) - lx.given_names()
        self.names = lx.given_names() | extra
        # The lexicon compiles once per process; a request's own names are a second, small pattern.
        self.lexicons = [p for p in (_possessive(lx.given_names()), _possessive(extra)) if p is not None]

    def _blocked_word(self, w: str, cue: str) -> bool:
        if w in lx.STOP_WORDS or w in self.prof or w in _RELATION_WORDS:
            return True
        return cue != "title" and (w in lx.ORG_WORDS or w in lx.CALENDAR)

    def _extend(self, text: str, end: int) -> tuple[int, bool]:
        """Extend over a surname or two; (new end, whether the run turned out to be an organisation/place)."""
        for _ in range(2):
            m = NEXT_CAP.match(text, end)
            if not m:
                break
            w = _word(m.group("w"))
            if w in lx.ORG_WORDS and not m.group("w").lower().endswith(("'s", "’s")):
                return end, True
            if w in lx.STOP_WORDS or w in lx.CALENDAR or m.group("w").isupper():
                break
            end = m.end()
        return end, False

    def _role(self, text: str, start: int, end: int, cue: str) -> bool:
        after = text[end:end + 45]
        if start in self.role_starts or ROLE_AFTER.match(fold(after)):
            return True
        m = FROM_ORG_AFTER.match(after)
        return bool(m) and cue not in ("relation", "title") and not _RELATION_IN.search(m.group())

    def candidate(self, text: str, start: int, end: int, cue: str) -> tuple[int, int, str] | None:
        token = text[start:end]
        w = _word(token)
        if len(w) < 2 or (token.isupper() and len(token) <= 4):
            return None
        if self._blocked_word(w, cue) or (w in self.own and cue != "title") or (cue == "lexicon" and w in self.known):
            return None
        if cue == "lexicon" and w in self.everyday and not (
                NEXT_CAP.match(text, end) or token.endswith(("'s", "’s")) or _said_next(text, end)):
            return None  # a word that is also a name, with no sign of a person (checked fully below)
        lower = token[0].islower()
        if lower and cue != "title":
            # Lower case: only a lexicon name (after a relationship, even one that is also a word: "nan pat").
            if cue in ("apposition", "called") or w not in self.names or len(w) < 3:
                return None
            if cue == "lexicon" and w in self.everyday:
                return None
        if _ORG_BEFORE.search(text[max(0, start - 8):start]):
            return None
        new_end, org = self._extend(text, end) if not lower else (end, False)
        if org:
            return None
        if self._role(text, start, new_end, cue):
            return None
        if cue == "lexicon" and w in self.everyday:
            if not (new_end > end or _said_next(text, new_end) or token.endswith(("'s", "’s"))):
                return None
        return start, new_end, cue

    def find(self, text: str, cues: "Cues | None" = None) -> list[tuple[int, int, str]]:
        cues = cues or Cues(text, fold(text))
        self.role_starts = cues.role_starts
        found = [hit for s, e, cue in cues.named if (hit := self.candidate(text, s, e, cue))]
        for lexicon in self.lexicons:
            for m in lexicon.finditer(text):
                hit = self.candidate(text, m.start(), m.end(), "lexicon")
                if hit:
                    found.append(hit)
        return found


def find_names(text: str, context: RedactionContext, learned=(frozenset(), frozenset())) -> list[tuple[int, int, str]]:
    """(start, end, cue) of every name of a private person the store does not know, in ``text``."""
    return _Finder(context, learned).find(text)


class NameRecogniser(RedactionRule):
    """People the store does not know, by cue and lexicon (see the module docstring)."""

    name = "unknown_person_name"
    codes = (THIRD_PARTY,)

    def prepare(self, records: Sequence[Record], context: RedactionContext) -> None:
        third: set[str] = set()
        prof: set[str] = set()
        protected = context.protected_pattern
        number = context.learned.get("memo:people")
        if number is None:
            number = context.learned["memo:people"] = context_number(context.people.memo_key)
        seen: dict[str, Cues] = {}  # each text's cues, read once here and again by apply
        for record in records:
            for text in record.fields.values():
                if not text or text in seen:
                    continue
                cues, learned_third, learned_prof = _learn(text)
                seen[text] = cues
                third.update(learned_third)
                prof.update(learned_prof)
                if protected is not None:
                    prof.update(w for _, _, w in _PROTECTED.spans(number, text, lambda t: tuple(
                        (0, 0, _word(w)) for m in protected.finditer(t) for w in m.group().split())))
        context.learned[self.name + ":cues"] = seen
        blocked = lx.STOP_WORDS | lx.ORG_WORDS | lx.CALENDAR | set(lx.TITLES)
        third -= blocked
        prof -= blocked
        prof -= third  # a name used both ways: the stricter reading
        context.learned[self.name] = (frozenset(third), frozenset(prof))

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        learned = context.learned.get(self.name, (frozenset(), frozenset()))
        finder = context.learned.get(self.name + ":finder")
        if finder is None or finder[0] is not learned:
            finder = (learned, _Finder(context, learned))
            context.learned[self.name + ":finder"] = finder
        seen = context.learned.get(self.name + ":cues", {})
        number = context.learned.get(self.name + ":memo")
        if number is None:
            number = context.learned[self.name + ":memo"] = context_number((context.people.memo_key, learned))
        find = lambda text: tuple((s, e, f"name_{cue}") for s, e, cue in finder[1].find(text, seen.get(text)))  # noqa: E731
        out = [self.span(record, field, s, e, THIRD_PARTY, rule)
               for field, text in record.fields.items() if text
               for s, e, rule in _MEMO.spans(number, text, find)]
        return out


_MEMO = SpanMemo()
_PROTECTED = SpanMemo()  # professionals' name words in a text, per request's people
register_rule(NameRecogniser())
on_forget(_learn.cache_clear)

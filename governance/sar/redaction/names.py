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

An optional statistical model adds nothing by default: see :mod:`.ner`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

from governance.sar.discovery import Record
from governance.sar.exemptions import THIRD_PARTY
from governance.sar.redaction import lexicon as lx
from governance.sar.redaction.base import Redaction, RedactionContext, RedactionRule, register_rule
from governance.sar.redaction.trie import compile_words, trie_source

__all__ = ["NameRecogniser", "find_names"]


def _alt(words) -> str:
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


_TOKEN = r"[A-Za-z][A-Za-z'’-]*"
_CAP = r"[A-Z][A-Za-z'’-]*"
TITLE = re.compile(rf"\b(?i:{_alt(lx.TITLES)})\.?\s+(?P<name>{_TOKEN})")
RELATION = re.compile(
    rf"\b(?i:{_alt(lx.RELATIONS)})\b(?:\s+(?i:called|named|is|was))?(?:\s*[,:-]\s*|\s+)[\"“']?(?P<name>{_TOKEN})")
# Not a pet's name: "a dog called Biscuit".
CALLED = re.compile(rf"(?:\b(?P<pet>(?i:dog|cat|puppy|kitten|hamster|rabbit|horse|pony|fish|snake|bird|parrot))\s+)?"
                    rf"\b(?i:called|named|introduced as|known as)\s+[\"“']?(?P<name>{_CAP})")
APPOSITION = re.compile(
    rf"(?P<name>{_CAP})\s*[,(]\s*(?i:(?:her|his|their|my|the|a|mum's|dad's|mums|dads|[a-z]+'s)\s+)?"
    rf"(?i:(?:new|ex|old|older|younger|little|best|current|former)\s*-?\s*)?(?i:{_alt(lx.RELATIONS)})\b")
_ROLE = _alt(lx.ROLES)
# One scan per text finds every name that follows a role ("DSL Mrs Akhtar", "SW Amy Todd").
ROLE_THEN_NAME = re.compile(
    rf"(?<!\w)(?:(?i:{trie_source(sorted(lx.ROLES))})|\((?i:{trie_source(sorted(lx.ROLES))})\))\s*[:\-,]?\s*"
    rf"(?:(?i:mr|mrs|ms|miss|mx|dr)\.?\s+)?(?P<name>[A-Za-z])")
ROLE_BEFORE = re.compile(rf"(?:\b(?i:{_ROLE})|\((?i:{_ROLE})\))\s*[:\-,]?\s*(?:(?i:mr|mrs|ms|miss|mx|dr)\.?\s+)?$")
ROLE_AFTER = re.compile(rf"^(?:\s*\([^)]{{0,30}}\b(?i:{_ROLE})\)|\s*\(\s*(?:the\s+)?(?i:{_ROLE})\b|\s*,\s*(?:the\s+|our\s+|a\s+)?(?i:{_ROLE})\b)")
# "Sam Pryce from Fenwick Recovery Service", "Jo (Home-Start)": in role, unless a relationship said otherwise.
FROM_ORG_AFTER = re.compile(r"^(?:\s+(?:from|at)\s+(?:the\s+)?[A-Z]|\s*\(\s*[A-Z][A-Za-z&' -]+\))")
NAME_THEN_ROLE = re.compile(rf"(?P<name>{_CAP})(?=\s*\([^)]{{0,30}}\b(?i:{_ROLE})\)|\s*\(\s*(?:the\s+)?(?i:{_ROLE})\b|\s*,\s*(?:the\s+|our\s+|a\s+)?(?i:{_ROLE})\b)")
NEXT_CAP = re.compile(rf"\s+(?P<w>{_CAP})")
SAY = frozenset("said says told asked rang phoned called texted stated reported explained wants wanted was is has had "
                "came went attended disclosed agreed refused shouted".split())
_RELATION_WORDS = frozenset(w for r in lx.RELATIONS for w in r.split())
_RELATION_IN = re.compile(rf"\b(?i:{_alt(lx.RELATIONS)})\b")
_ORG_BEFORE = re.compile(r"\b(?:St|Saint|Holy|Our)\.?\s+$")


def _word(token: str) -> str:
    w = token.lower().replace("’", "'")
    for suffix in ("'s", "'"):
        if w.endswith(suffix):
            return w[: -len(suffix)]
    return w


@lru_cache(maxsize=16)
def _possessive(words: frozenset[str]) -> re.Pattern[str] | None:
    """Whole words, with an optional possessive ("Pauline's": the 's belongs to the name)."""
    plain = compile_words(words)
    return re.compile(plain.pattern[:-len("(?!\\w)")] + r"(?:['’]s)?(?!\w)", re.IGNORECASE) if plain else None


class _Finder:
    def __init__(self, context: RedactionContext, learned: tuple[frozenset[str], frozenset[str]]) -> None:
        people = context.people
        self.third, self.prof = learned
        self.own = {w.lower() for w in people.own_words}
        self.everyday = lx.everyday_names()
        others_given = {t.given.lower() for t in people.others if len(t.given) >= 3}
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
        if start in self.role_starts or ROLE_AFTER.match(after):
            return True
        m = FROM_ORG_AFTER.match(after)
        return bool(m) and cue not in ("relation", "title") and not _RELATION_IN.search(m.group())

    def candidate(self, text: str, start: int, end: int, cue: str) -> tuple[int, int, str] | None:
        token = text[start:end]
        w = _word(token)
        if len(w) < 2 or (token.isupper() and len(token) <= 4):
            return None
        if self._blocked_word(w, cue) or (w in self.own and cue != "title"):
            return None
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
            nxt = re.match(r"\s+([a-z]+)", text[new_end:new_end + 20])
            evidence = new_end > end or (nxt is not None and nxt.group(1) in SAY) or token.endswith(("'s", "’s"))
            if not evidence:
                return None
        return start, new_end, cue

    def find(self, text: str) -> list[tuple[int, int, str]]:
        found: list[tuple[int, int, str]] = []
        self.role_starts = {m.start("name") for m in ROLE_THEN_NAME.finditer(text)}
        for pattern, cue in ((TITLE, "title"), (RELATION, "relation"), (CALLED, "called"), (APPOSITION, "apposition")):
            for m in pattern.finditer(text):
                if m.groupdict().get("pet"):
                    continue
                hit = self.candidate(text, m.start("name"), m.end("name"), cue)
                if hit:
                    found.append(hit)
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
        for record in records:
            for text in record.fields.values():
                if not text:
                    continue
                for pattern in (RELATION, CALLED, APPOSITION):
                    for m in pattern.finditer(text):
                        token = m.group("name")
                        if m.groupdict().get("pet"):
                            continue
                        if token[0].isupper() and not token.isupper():
                            third.add(_word(token))
                for m in ROLE_THEN_NAME.finditer(text):
                    token = re.match(_CAP, text[m.start("name"):m.start("name") + 40])
                    if token:
                        prof.add(_word(token.group()))
                for m in NAME_THEN_ROLE.finditer(text):
                    prof.add(_word(m.group("name")))
                if protected is not None:
                    for m in protected.finditer(text):
                        prof.update(_word(w) for w in m.group().split())
        blocked = lx.STOP_WORDS | lx.ORG_WORDS | lx.CALENDAR | set(lx.TITLES)
        third -= blocked
        prof -= blocked
        prof -= third  # a name used both ways: the stricter reading
        context.learned[self.name] = (frozenset(third), frozenset(prof))

    @staticmethod
    def _in_role(text: str, start: int, end: int) -> bool:
        return bool(ROLE_BEFORE.search(text[max(0, start - 45):start])) or bool(
            ROLE_AFTER.match(text[end:end + 45]))

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        learned = context.learned.get(self.name, (frozenset(), frozenset()))
        finder = context.learned.get(self.name + ":finder")
        if finder is None or finder[0] is not learned:
            finder = (learned, _Finder(context, learned))
            context.learned[self.name + ":finder"] = finder
        out = []
        for field, text in record.fields.items():
            if text:
                out += [self.span(record, field, s, e, THIRD_PARTY, f"name_{cue}") for s, e, cue in finder[1].find(text)]
        return out


register_rule(NameRecogniser())

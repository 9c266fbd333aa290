"""The redaction contract: a rule looks at one record and returns redactions.

A :class:`Redaction` names a span of one text field (or, with field ``"*"``,
the whole record, which is then withheld), the exemption code it cites and the
rule that found it. Rules are small strategies registered by name
(architecture rule 6); every registered rule passes one contract test
(``tests/sar/test_redaction_contract.py``). Automatic rules may only cite codes
a rule may apply without a reviewer (:mod:`governance.sar.exemptions`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Sequence

from governance.errors import ConfigError
from governance.sar.redaction.trie import AnyOf, WordMatcher, compile_words

if TYPE_CHECKING:
    from governance.sar.discovery import Record
    from governance.sar.people import KnownPeople

__all__ = ["Redaction", "RedactionContext", "RedactionRule", "register_rule", "rule_names", "get_rule", "WHOLE_RECORD"]

WHOLE_RECORD = "*"


@dataclass(frozen=True, order=True)
class Redaction:
    entity: str
    record_id: str
    field: str  # a text field of the record, or "*" for the whole record (withheld)
    start: int
    end: int
    code: str
    rule: str
    source: str = "auto"  # auto, or reviewer

    @property
    def withholds(self) -> bool:
        return self.field == WHOLE_RECORD

    def to_row(self) -> dict:
        return {"entity": self.entity, "record_id": self.record_id, "field": self.field, "start": self.start,
                "end": self.end, "code": self.code, "rule": self.rule}


class RedactionContext:
    """What rules may consult: the people the store knows around the subject, as compiled matchers.

    ``learned`` holds what rules found by reading every record first (:meth:`RedactionRule.prepare`),
    keyed by rule name: a request's context is built once and shared by all its records.
    """

    def __init__(self, people: "KnownPeople") -> None:
        self.people = people
        self.learned: dict[str, object] = {}

    @cached_property
    def literal_pattern(self) -> WordMatcher | None:
        return compile_words(frozenset(self.people.literal_terms))

    @cached_property
    def literal_rules(self) -> dict[str, str]:
        return {term.lower(): rule for term, rule in self.people.literal_terms.items()}

    @cached_property
    def given_pattern(self) -> AnyOf | None:
        """Given names alone and their short forms: any case ("Paulines" too, as notes are typed), or exact
        case for names that are words ("Lily", not "lily"), short aliases and initials."""
        loose = compile_words(frozenset(self.people.given_names), True, "s?")
        exact = compile_words(frozenset(self.people.given_names_exact) | frozenset(self.people.short_aliases)
                              | frozenset(self.people.initials), False)
        return AnyOf(loose, exact) if loose or exact else None

    @cached_property
    def protected_pattern(self) -> WordMatcher | None:
        return compile_words(frozenset(self.people.protected_names))


class RedactionRule(ABC):
    """One strategy. ``codes`` lists every exemption code it may cite."""

    name: str
    codes: tuple[str, ...]
    whole_record: bool = False  # withholds records rather than redacting spans

    @abstractmethod
    def apply(self, record: "Record", context: RedactionContext) -> list[Redaction]:
        """Redactions for ``record`` (spans within ``record.fields``, or whole-record withholdings)."""

    def prepare(self, records: Sequence["Record"], context: RedactionContext) -> None:
        """Optionally read every record of the request first (into ``context.learned``); default: nothing."""

    def span(self, record: "Record", field: str, start: int, end: int, code: str, rule: str | None = None) -> Redaction:
        return Redaction(record.entity, record.record_id, field, start, end, code, rule or self.name)

    def withhold(self, record: "Record", code: str) -> Redaction:
        return Redaction(record.entity, record.record_id, WHOLE_RECORD, 0, 0, code, self.name)


_REGISTRY: dict[str, RedactionRule] = {}


def register_rule(rule: RedactionRule) -> RedactionRule:
    """Add a rule to the registry (its name must be new)."""
    if rule.name in _REGISTRY:
        raise ConfigError(f"redaction rule {rule.name!r} is registered twice")
    from governance.sar.exemptions import exemption

    for code in rule.codes:
        if exemption(code).reviewer_only:
            raise ConfigError(f"redaction rule {rule.name!r} cites {code}, which only a reviewer may apply")
    _REGISTRY[rule.name] = rule
    return rule


def _load_builtin() -> None:
    from governance.sar.redaction import record_rules, text_rules  # noqa: F401 - registers on import
    from governance.sar.redaction import names  # noqa: F401 - after text_rules: a known person keeps its rule name


def rule_names() -> list[str]:
    _load_builtin()
    return list(_REGISTRY)


def get_rule(name: str) -> RedactionRule:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"no redaction rule {name!r}; known: {', '.join(_REGISTRY)}") from None

"""The retention schedule: rules loaded from TOML, validated, versioned by hash.

:func:`load_schedule` reads the built-in schedule (``schedule.toml`` beside this
module) or a council's own file; :meth:`Schedule.rule_for` picks the rule for a
case: the first rule listed for its case type whose condition holds.
"""

from __future__ import annotations

import hashlib
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

from governance.errors import ConfigError
from governance.stores.model import CASE_TYPES

__all__ = ["Clock", "Rule", "Schedule", "load_schedule", "TRIGGERS", "ACTIONS", "CONDITIONS", "BUILTIN_SCHEDULE"]

BUILTIN_SCHEDULE = Path(__file__).with_name("schedule.toml")
TRIGGERS = ("closure", "date_of_birth", "death", "last_activity", "order_date")
ACTIONS = ("destroy", "anonymise", "review")
CONDITIONS = ("cp_concerns_or_social_care", "child_died_before_18", "allegation_unfounded")


@dataclass(frozen=True)
class Clock:
    trigger: str
    years: int


@dataclass(frozen=True)
class Rule:
    id: str
    case_types: tuple[str, ...]
    clocks: tuple[Clock, ...]
    action: str
    legal_basis: str
    source: str
    when: str | None = None
    auto_approve: bool = False
    two_person: bool = True

    @property
    def longest_years(self) -> int:
        return max(c.years for c in self.clocks)


@dataclass(frozen=True)
class Schedule:
    name: str
    version: str  # sha256 of the file: what the ledger records
    source: str
    rules: tuple[Rule, ...]

    def rules_for(self, case_type: str) -> tuple[Rule, ...]:
        return tuple(r for r in self.rules if case_type in r.case_types)

    def rule_for(self, case_type: str, condition: Callable[[str], bool]) -> Rule | None:
        """First rule for the type whose ``when`` holds (``condition(name) -> bool``)."""
        for rule in self.rules_for(case_type):
            if rule.when is None or condition(rule.when):
                return rule
        return None

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise ConfigError(f"retention schedule {self.name}: no rule {rule_id!r}")


def load_schedule(path: str | Path | None = None) -> Schedule:
    """Load the schedule at ``path``, else ``GOVERNANCE_RETENTION_SCHEDULE``, else the built-in one."""
    chosen = Path(path or os.environ.get("GOVERNANCE_RETENTION_SCHEDULE") or BUILTIN_SCHEDULE)
    if not chosen.is_file():
        raise ConfigError(f"retention schedule {chosen} not found")
    raw_bytes = chosen.read_bytes()
    try:
        raw = tomllib.loads(raw_bytes.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"retention schedule {chosen}: not valid TOML ({exc})") from None
    where = f"retention schedule {chosen}"
    rules = tuple(_rule(r, where, n) for n, r in enumerate(raw.get("rule", []), start=1))
    if not rules:
        raise ConfigError(f"{where}: no [[rule]] entries")
    ids = [r.id for r in rules]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"{where}: rule ids must be unique")
    for case_type in CASE_TYPES:
        typed = [r for r in rules if case_type in r.case_types]
        if typed and typed[-1].when is not None:
            raise ConfigError(f"{where}: case type {case_type!r} has no unconditional rule (list one after its conditional rules)")
    return Schedule(
        name=str(raw.get("schedule", chosen.stem)),
        version=hashlib.sha256(raw_bytes).hexdigest(),
        source=str(chosen),
        rules=rules,
    )


def _rule(raw: Mapping, where: str, n: int) -> Rule:
    rule_id = raw.get("id")
    here = f"{where}: rule {rule_id or n}"
    if not isinstance(rule_id, str) or not rule_id:
        raise ConfigError(f"{here}: needs an id")
    case_types = tuple(raw.get("case_types", ()))
    unknown = [t for t in case_types if t not in CASE_TYPES]
    if not case_types or unknown:
        raise ConfigError(f"{here}: case_types must name known types (unknown: {unknown})")
    clocks = []
    for clock in raw.get("clocks", ()):
        trigger, years = clock.get("trigger"), clock.get("years")
        if trigger not in TRIGGERS:
            raise ConfigError(f"{here}: unknown clock trigger {trigger!r} (known: {', '.join(TRIGGERS)})")
        if not isinstance(years, int) or isinstance(years, bool) or years < 0:
            raise ConfigError(f"{here}: clock years must be a whole number of years >= 0")
        clocks.append(Clock(trigger, years))
    if not clocks:
        raise ConfigError(f"{here}: needs at least one clock")
    action = raw.get("action")
    if action not in ACTIONS:
        raise ConfigError(f"{here}: action must be one of {', '.join(ACTIONS)}")
    when = raw.get("when")
    if when is not None and when not in CONDITIONS:
        raise ConfigError(f"{here}: unknown condition {when!r} (known: {', '.join(CONDITIONS)})")
    for key in ("legal_basis", "source"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ConfigError(f"{here}: needs {key}")
    return Rule(
        id=rule_id,
        case_types=case_types,
        clocks=tuple(clocks),
        action=action,
        legal_basis=raw["legal_basis"],
        source=raw["source"],
        when=when,
        auto_approve=bool(raw.get("auto_approve", False)),
        # The two-person rule is on by default for destruction (issue 3).
        two_person=bool(raw.get("two_person", action != "review")),
    )

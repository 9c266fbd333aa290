"""Retention plans (dry runs): what is due, what is excluded and why, what comes next.

A plan changes nothing. It is what the IG team reads before a batch is made,
what ``governance retention plan --json`` prints, and what a batch is built from.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date

from sqlalchemy.engine import Engine

from governance.retention.eligibility import Decision, evaluate
from governance.retention.schedule import Schedule
from governance.stores.store import CaseStore

__all__ = ["Plan", "build_plan", "FORECAST_MONTHS"]

FORECAST_MONTHS = 24


@dataclass(frozen=True)
class Plan:
    store: str
    as_of: date
    schedule: Schedule
    decisions: tuple[Decision, ...]

    @property
    def due(self) -> list[Decision]:
        return [d for d in self.decisions if d.status == "due"]

    def counts(self) -> dict:
        by_class: dict[str, Counter] = defaultdict(Counter)
        by_rule: dict[str, Counter] = defaultdict(Counter)
        reasons: Counter = Counter()
        for d in self.decisions:
            by_class[d.case_type][d.status] += 1
            if d.rule_id:
                by_rule[d.rule_id][d.status] += 1
            reasons.update(r.split(":")[0] for r in d.reasons)
        return {
            "cases": len(self.decisions),
            "by_status": dict(Counter(d.status for d in self.decisions)),
            "by_class": {k: dict(v) for k, v in sorted(by_class.items())},
            "by_rule": {k: dict(v) for k, v in sorted(by_rule.items())},
            "due_by_action": dict(Counter(d.action for d in self.due)),
            "exclusion_reasons": dict(sorted(reasons.items())),
        }

    def forecast(self) -> list[dict]:
        """Cases falling due in each of the next 24 calendar months (the as-of month first)."""
        months = []
        year, month = self.as_of.year, self.as_of.month
        for _ in range(FORECAST_MONTHS):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        tally = Counter(
            f"{d.due_on.year:04d}-{d.due_on.month:02d}"
            for d in self.decisions
            if d.status == "not_due" and d.due_on is not None and d.due_on > self.as_of
        )
        return [{"month": m, "cases": tally.get(m, 0)} for m in months]

    def to_json(self, *, list_cases: bool = True) -> dict:
        result = {
            "store": self.store,
            "as_of": self.as_of.isoformat(),
            "schedule": {"name": self.schedule.name, "version": self.schedule.version},
            "counts": self.counts(),
            "forecast": self.forecast(),
        }
        if list_cases:
            result["due"] = [d.to_json() for d in self.due]
            result["review"] = [d.to_json() for d in self.decisions if d.status == "review"]
            result["excluded"] = [d.to_json() for d in self.decisions if d.status == "excluded"]
        return result


def build_plan(store: CaseStore, state: Engine, schedule: Schedule, as_of: date,
               resurrected: frozenset[str] = frozenset()) -> Plan:
    return Plan(store.name, as_of, schedule, tuple(evaluate(store, state, schedule, as_of, resurrected=resurrected)))

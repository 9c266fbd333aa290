"""Retention plans (dry runs): what is due, what is excluded and why, what comes next.

A plan changes nothing. It is what the IG team reads before a batch is made,
what ``governance retention plan --json`` prints, and what a batch is built from.

Every case of the store appears in a listed plan exactly once: ``due``,
``review``, ``excluded`` (reason codes) or ``not_due`` (a reason, and the date
it becomes due where the store's dates say), so "why isn't case X going?" is
always answered. A case row without an id is listed as excluded with
``MISSING_ID`` (and its family, to find it by); it can never be acted on.

Cases are decided window by window (:data:`PLAN_WINDOW` case ids at a time,
each window with its whole re-referral chains, by the same :func:`evaluate` the
executor re-checks with), and only tallies, the due cases and, when a listing
is asked for, the other cases are kept: memory follows the window and the
listing, not the size of the store.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.retention.eligibility import Decision, evaluate
from governance.retention.schedule import Schedule
from governance.retention.tombstones import resurrected_among
from governance.stores.store import CaseStore

__all__ = ["Plan", "build_plan", "decide_every_case", "FORECAST_MONTHS", "PLAN_WINDOW"]

FORECAST_MONTHS = 24
PLAN_WINDOW = 5000


@dataclass
class _Tally:
    as_of: date
    cases: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_class: dict = field(default_factory=lambda: defaultdict(Counter))
    by_rule: dict = field(default_factory=lambda: defaultdict(Counter))
    reasons: Counter = field(default_factory=Counter)  # why cases are kept back: excluded and review
    not_due_reasons: Counter = field(default_factory=Counter)
    due_by_action: Counter = field(default_factory=Counter)
    due_months: Counter = field(default_factory=Counter)

    def add(self, d: Decision) -> None:
        self.cases += 1
        self.by_status[d.status] += 1
        self.by_class[d.case_type][d.status] += 1
        if d.rule_id:
            self.by_rule[d.rule_id][d.status] += 1
        codes = (r.split(":")[0] for r in d.reasons)
        (self.not_due_reasons if d.status == "not_due" else self.reasons).update(codes)
        if d.status == "due":
            self.due_by_action[d.action] += 1
        if d.status == "not_due" and d.due_on is not None and d.due_on > self.as_of:
            self.due_months[f"{d.due_on.year:04d}-{d.due_on.month:02d}"] += 1


@dataclass(frozen=True)
class Plan:
    store: str
    as_of: date
    schedule: Schedule
    due: tuple[Decision, ...]
    listed: tuple[Decision, ...] | None  # review, excluded and not-due cases; None when not kept
    tally: _Tally

    def counts(self) -> dict:
        t = self.tally
        return {
            "cases": t.cases,
            "by_status": dict(t.by_status),
            "by_class": {k: dict(v) for k, v in sorted(t.by_class.items())},
            "by_rule": {k: dict(v) for k, v in sorted(t.by_rule.items())},
            "due_by_action": dict(t.due_by_action),
            "exclusion_reasons": dict(sorted(t.reasons.items())),
            "not_due_reasons": dict(sorted(t.not_due_reasons.items())),
        }

    def forecast(self) -> list[dict]:
        """Cases falling due in each of the next 24 calendar months (the as-of month first)."""
        months = []
        year, month = self.as_of.year, self.as_of.month
        for _ in range(FORECAST_MONTHS):
            months.append(f"{year:04d}-{month:02d}")
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return [{"month": m, "cases": self.tally.due_months.get(m, 0)} for m in months]

    def to_json(self, *, list_cases: bool = True) -> dict:
        result = {
            "store": self.store,
            "as_of": self.as_of.isoformat(),
            "schedule": {"name": self.schedule.name, "version": self.schedule.version},
            "counts": self.counts(),
            "forecast": self.forecast(),
        }
        if list_cases:
            if self.listed is None:
                raise ValueError("this plan was built without its listing (build_plan(..., listing=True))")
            result["due"] = [d.to_json() for d in self.due]
            result["review"] = [d.to_json() for d in self.listed if d.status == "review"]
            result["excluded"] = [d.to_json() for d in self.listed if d.status == "excluded"]
            result["not_due"] = [d.to_json() for d in self.listed if d.status == "not_due"]
        return result


def _case_id_windows(store: CaseStore, size: int) -> Iterator[list[str]]:
    """Every case id, in order, ``size`` at a time (keyset pagination: no offset scans)."""
    case_id = store.raw("case", "id")
    last = None
    while True:
        query = sa.select(case_id).where(case_id.is_not(None)).order_by(case_id).limit(size)
        if last is not None:
            query = query.where(case_id > last)
        with store.engine.connect() as conn:
            window = conn.execute(query).scalars().all()
        if not window:
            return
        yield window
        last = window[-1]


def decide_every_case(store: CaseStore, state: Engine, schedule: Schedule, as_of: date, *,
                      tombstone_key: bytes | None = None, window: int = PLAN_WINDOW,
                      in_force_at: date | None = None) -> Iterator[Decision]:
    """Decisions for every case in the store, in case-id order, a window at a time."""
    for ids in _case_id_windows(store, window):
        resurrected = resurrected_among(store, state, tombstone_key, ids) if tombstone_key else frozenset()
        yield from evaluate(store, state, schedule, as_of, case_ids=ids, resurrected=resurrected, in_force_at=in_force_at)
    yield from _rows_without_id(store)


def _rows_without_id(store: CaseStore) -> Iterator[Decision]:
    """Case rows with no id: never acted on, listed so a plan accounts for every row."""
    family = store.raw("case", "family_id") if store.has_field("case", "family_id") else sa.null()
    query = sa.select(family, store.column("case", "case_type")).where(store.raw("case", "id").is_(None))
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    for family_id, case_type in rows:
        yield Decision(None, case_type, "excluded", None, None, None,
                       ("MISSING_ID",) + ((f"FAMILY:{family_id}",) if family_id else ()))


def build_plan(store: CaseStore, state: Engine, schedule: Schedule, as_of: date, *,
               tombstone_key: bytes | None = None, listing: bool = True, window: int = PLAN_WINDOW,
               in_force_at: date | None = None) -> Plan:
    """The plan as of ``as_of``; ``listing`` keeps the review and excluded cases for printing."""
    tally, due, listed = _Tally(as_of), [], []
    for decision in decide_every_case(store, state, schedule, as_of, tombstone_key=tombstone_key, window=window,
                                      in_force_at=in_force_at):
        tally.add(decision)
        if decision.status == "due":
            due.append(decision)
        elif listing:
            listed.append(decision)
    return Plan(store.name, as_of, schedule, tuple(due), tuple(listed) if listing else None, tally)

"""Quarantine: failing records held out of retention until a later run passes them.

One row of ``quality_quarantine`` per (record, rule, case): the record's
identifier, its logical entity, the rule it failed and the case it belongs to,
so the retention sweep can exclude cases by ``case_id`` (the table's contract).
Which case a record belongs to is read from the store through the mapping:

- a case is its own case; a membership, casenote, document, consent form,
  sharing record or access-log entry names its case (an orphan's dangling case
  reference is kept: should that case appear, it is protected);
- an opt-out belongs to its consent form's case;
- a person belongs to every case they are a member of, one row per case, or
  to none (``case_id`` NULL: quarantined and listed, but no case to hold back).

:func:`sync` makes the table agree with a run: new failures are inserted,
active rows whose rule ran completely and no longer fails are released
(``released_at``). Both are written to the ledger, one entry per rule, with
record identifiers and counts, through the unit of work
(:meth:`governance.unit.Work.append_once_now`, keyed by run, rule and record
set): in the same transaction when the ledger and the state tables share a
database; otherwise recorded first, before the state commits, because a retry
after a commit sees no change left to record (a failed state write is retried
and finds its entries). Rules that errored, were skipped, or returned more
failures than could be fetched release nothing.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.db import chunked
from governance.quality.report import FAILED, QualityReport
from governance.quality.rules import QUARANTINE
from governance.quality.tables import quarantine
from governance.stores.store import CaseStore
from governance.unit import Unit, Work

__all__ = [
    "QUARANTINED", "RELEASED", "SyncResult", "case_ids_for", "sync", "active_quarantine_case_ids", "active_rows",
    "release_records",
]

QUARANTINED = "quality.quarantined"
RELEASED = "quality.released"
_CASE_LINKED = ("case_member", "casenote", "document", "consent", "sharing_record", "access_log")

Key = tuple[str, str, str, "str | None"]  # entity, record_id, rule, case_id


def _write_lock(conn: sa.Connection) -> None:
    """On SQLite, take the write lock before reading, so a concurrent writer makes us wait, not fail.

    (A deferred SQLite transaction that reads and then writes fails at once if
    another connection committed in between; a no-op UPDATE first makes it a
    write transaction from the start, which waits out the busy timeout.)
    """
    if conn.dialect.name == "sqlite":
        conn.execute(quarantine.update().where(sa.false()).values(store=quarantine.c.store))



def case_ids_for(store: CaseStore, entity: str, record_ids: Iterable[str]) -> dict[str, set[str | None]]:
    """record id -> the cases it belongs to ({None} when it belongs to none)."""
    ids = sorted(set(record_ids))
    found: dict[str, set[str | None]] = defaultdict(set)
    if entity == "case":
        return {i: {i} for i in ids}
    if entity == "person":
        link, person, case = store.table("case_member"), store.raw("case_member", "person_id"), store.raw("case_member", "case_id")
        query = lambda chunk: sa.select(person, case).select_from(link).where(person.in_(chunk))  # noqa: E731
    elif entity == "consent_opt_out" and store.has_field("consent", "case_id"):
        opt_id, consent_id = store.raw("consent_opt_out", "id"), store.raw("consent_opt_out", "consent_id")
        join = store.table("consent_opt_out").join(store.table("consent"), store.raw("consent", "id") == consent_id)
        query = lambda chunk: sa.select(opt_id, store.raw("consent", "case_id")).select_from(join).where(opt_id.in_(chunk))  # noqa: E731
    elif entity in _CASE_LINKED and store.has_field(entity, "case_id"):
        own_id, case = store.raw(entity, "id"), store.raw(entity, "case_id")
        query = lambda chunk: sa.select(own_id, case).where(own_id.in_(chunk))  # noqa: E731
    else:
        query = None
    if query is not None:
        with store.engine.connect() as conn:
            for chunk in chunked(ids):
                for record_id, case_id in conn.execute(query(chunk)):
                    found[str(record_id)].add(None if case_id is None else str(case_id))
    return {i: (found.get(i) or {None}) for i in ids}


@dataclass
class SyncResult:
    quarantined: dict[str, list[str]] = field(default_factory=dict)  # rule -> newly quarantined record ids
    released: dict[str, list[str]] = field(default_factory=dict)  # rule -> released record ids
    active_records: int = 0
    active_cases: int = 0

    def counts(self) -> dict[str, int]:
        return {
            "quarantined_new": sum(len(v) for v in self.quarantined.values()),
            "released": sum(len(v) for v in self.released.values()),
            "quarantined_active": self.active_records,
            "cases_quarantined": self.active_cases,
        }


def _failing(store: CaseStore, report: QualityReport) -> set[Key]:
    keys: set[Key] = set()
    for outcome in report.outcomes:
        if outcome.status != FAILED or outcome.severity != QUARANTINE or not outcome.record_ids:
            continue
        for record_id, cases in case_ids_for(store, outcome.entity, outcome.record_ids).items():
            keys.update((outcome.entity, record_id, outcome.rule, case_id) for case_id in cases)
    return keys


def _ledger_events(action: str, by_rule: dict[str, list[str]], *, store: str, actor: str, run_id: str,
                   as_of: str, reason: str, cases: dict[str, int]) -> list[dict[str, Any]]:
    return [
        {"actor": actor, "action": action, "reason": reason, "rule": rule, "store": store, "record_ids": ids,
         "counts": {"records": len(ids), "cases": cases.get(rule, 0)}, "details": {"run_id": run_id, "as_of": as_of}}
        for rule, ids in sorted(by_rule.items()) if ids
    ]


def _record(work: Work, events: list[dict[str, Any]]) -> None:
    """Each entry once per run, rule and record set, however often the task is retried."""
    for event in events:
        digest = hashlib.sha256("\n".join(event["record_ids"]).encode("utf-8")).hexdigest()[:16]
        work.append_once_now(key=f"{event['details']['run_id']}:{event['rule']}:{digest}", **event)


def sync(unit: Unit, store: CaseStore, report: QualityReport, *, run_id: str, at: datetime,
         actor: str) -> SyncResult:
    """Bring ``quality_quarantine`` in line with ``report``; record the changes in the unit's ledger."""
    failing = _failing(store, report)
    complete = {o.rule for o in report.outcomes if o.evaluated}
    result = SyncResult()
    with unit.transaction() as work:
        conn = work.conn
        _write_lock(conn)
        rows = conn.execute(sa.select(quarantine.c.id, quarantine.c.entity, quarantine.c.record_id, quarantine.c.expectation,
                                      quarantine.c.case_id)
                            .where(quarantine.c.store == store.name, quarantine.c.released_at.is_(None))).all()
        active = {(r.entity, r.record_id, r.expectation, r.case_id): r.id for r in rows}
        new = sorted(failing - set(active), key=lambda k: (k[2], k[1], k[3] or ""))
        gone = [(key, row_id) for key, row_id in active.items() if key[2] in complete and key not in failing]
        new_by_rule, gone_by_rule = defaultdict(set), defaultdict(set)
        new_cases, gone_cases = defaultdict(set), defaultdict(set)
        for entity, record_id, rule, case_id in new:
            new_by_rule[rule].add(record_id)
            if case_id:
                new_cases[rule].add(case_id)
        for (entity, record_id, rule, case_id), _ in gone:
            gone_by_rule[rule].add(record_id)
            if case_id:
                gone_cases[rule].add(case_id)
        result.quarantined = {rule: sorted(ids) for rule, ids in new_by_rule.items()}
        result.released = {rule: sorted(ids) for rule, ids in gone_by_rule.items()}
        events = _ledger_events(QUARANTINED, result.quarantined, store=store.name, actor=actor, run_id=run_id,
                                as_of=report.as_of.isoformat(), reason="failed a data-quality rule; held out of retention",
                                cases={r: len(c) for r, c in new_cases.items()})
        events += _ledger_events(RELEASED, result.released, store=store.name, actor=actor, run_id=run_id,
                                 as_of=report.as_of.isoformat(), reason="passes the data-quality rule it failed",
                                 cases={r: len(c) for r, c in gone_cases.items()})
        if new:
            conn.execute(quarantine.insert(), [
                {"store": store.name, "entity": e, "record_id": rid, "case_id": cid, "expectation": rule,
                 "quarantined_at": at, "quarantined_run": run_id} for e, rid, rule, cid in new])
        for chunk in chunked([str(row_id) for _, row_id in gone]):
            conn.execute(quarantine.update().where(quarantine.c.id.in_([int(i) for i in chunk]))
                         .values(released_at=at, released_run=run_id))
        _record(work, events)
        remaining = (set(active) - {key for key, _ in gone}) | set(new)
    result.active_records = len({(e, rid, rule) for e, rid, rule, _ in remaining})
    result.active_cases = len({cid for *_, cid in remaining if cid})
    return result


def active_quarantine_case_ids(engine: Engine, store: CaseStore | str) -> set[str]:
    """Cases of ``store`` held back by an active quarantine row (what retention excludes)."""
    name = store if isinstance(store, str) else store.name
    with engine.connect() as conn:
        return set(conn.execute(sa.select(quarantine.c.case_id).distinct().where(
            quarantine.c.store == name, quarantine.c.released_at.is_(None), quarantine.c.case_id.is_not(None))).scalars())


def active_rows(engine: Engine, store: str, *, record_id: str | None = None) -> list[dict[str, Any]]:
    """Active quarantine rows of a store (optionally one record), oldest first."""
    query = sa.select(quarantine).where(quarantine.c.store == store, quarantine.c.released_at.is_(None))
    if record_id is not None:
        query = query.where(quarantine.c.record_id == record_id)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(quarantine.c.id))]


def release_records(unit: Unit, store: str, record_ids: list[str], *, rule: str | None, at: datetime, run_id: str,
                    actor: str, reason: str) -> dict[str, list[str]]:
    """Release active rows of ``record_ids`` by hand (optionally one rule); returns rule -> released ids."""
    with unit.transaction() as work:
        conn = work.conn
        _write_lock(conn)
        query = sa.select(quarantine.c.id, quarantine.c.record_id, quarantine.c.expectation, quarantine.c.case_id).where(
            quarantine.c.store == store, quarantine.c.released_at.is_(None), quarantine.c.record_id.in_(record_ids))
        if rule is not None:
            query = query.where(quarantine.c.expectation == rule)
        rows = conn.execute(query).all()
        by_rule: dict[str, set[str]] = defaultdict(set)
        cases: dict[str, set[str]] = defaultdict(set)
        for row in rows:
            by_rule[row.expectation].add(row.record_id)
            if row.case_id:
                cases[row.expectation].add(row.case_id)
        released = {r: sorted(ids) for r, ids in by_rule.items()}
        events = _ledger_events(RELEASED, released, store=store, actor=actor, run_id=run_id, as_of=at.date().isoformat(),
                                reason=reason, cases={r: len(c) for r, c in cases.items()})
        if rows:
            conn.execute(quarantine.update().where(quarantine.c.id.in_([r.id for r in rows]))
                         .values(released_at=at, released_run=run_id))
        _record(work, events)
    return released

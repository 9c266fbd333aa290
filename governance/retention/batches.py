"""Disposition batches: made from a plan, reviewed, then executed in chunks.

A batch lists the due cases (destroy and anonymise; ``review`` cases are never
batched) with the rule that made each due, split into chunks of bounded size.
Review follows the two-person rule where the rule asks for it (on by default
for destruction): nobody approves a batch they created. A batch whose every
rule is marked ``auto_approve`` in the schedule is approved by the schedule.
A rejection needs a reason; it is kept in the ledger and keeps the batch's
cases out of later batches until lifted or expired
(:mod:`governance.retention.rejections`).
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.errors import ConfigError, GovernanceError
from governance.ledger import Ledger
from governance.retention import tables
from governance.retention.plan import Plan
from governance.retention.rejections import rejection_days as _rejection_days
from governance.retention.rejections import record_rejection
from governance.retention.schedule import Schedule

__all__ = ["Batch", "create_batch", "approve_batch", "reject_batch", "load_batch", "record_schedule_version",
           "CHUNK_SIZE", "AUTO_APPROVER"]

CHUNK_SIZE = 2000  # cases per chunk: bounded memory, and few enough chunks that per-chunk commits stay small
AUTO_APPROVER = "schedule:auto-approve"


@dataclass(frozen=True)
class Batch:
    batch_id: str
    store: str
    as_of: date
    schedule_version: str
    status: str
    created_by: str
    approved_by: str | None
    counts: dict
    chunks: int

    def to_json(self) -> dict:
        return {"batch_id": self.batch_id, "store": self.store, "as_of": self.as_of.isoformat(),
                "schedule_version": self.schedule_version, "status": self.status, "created_by": self.created_by,
                "approved_by": self.approved_by, "counts": self.counts, "chunks": self.chunks}


def _now() -> datetime:
    return datetime.now(timezone.utc)


def record_schedule_version(state: Engine, ledger: Ledger, schedule: Schedule, actor: str) -> None:
    """Write the schedule version to the ledger the first time it is used (once)."""
    with state.begin() as conn:
        seen = conn.execute(sa.select(tables.schedule_versions.c.version)
                            .where(tables.schedule_versions.c.version == schedule.version)).first()
        if seen:
            return
        entry = ledger.append(actor=actor, action="retention.schedule.adopted", rule=schedule.name,
                              details={"schedule_version": schedule.version, "rules": len(schedule.rules)},
                              connection=conn if ledger.shares_database(state) else None)
        conn.execute(tables.schedule_versions.insert().values(version=schedule.version, name=schedule.name,
                                                             ledger_seq=entry.seq))


def create_batch(state: Engine, ledger: Ledger, plan: Plan, *, created_by: str, chunk_size: int = CHUNK_SIZE) -> Batch | None:
    """Make a batch of the plan's due cases; None when nothing is due."""
    due = plan.due
    if not due:
        return None
    record_schedule_version(state, ledger, plan.schedule, created_by)
    batch_id = f"B-{plan.store}-{plan.as_of.isoformat()}-{uuid.uuid4().hex[:8]}"
    counts = {
        "cases": len(due),
        "by_class": dict(Counter(d.case_type for d in due)),
        "by_rule": dict(Counter(d.rule_id for d in due)),
        "by_action": dict(Counter(d.action for d in due)),
    }
    rules = {d.rule_id for d in due}
    auto = all(plan.schedule.rule(r).auto_approve for r in rules if r != "tombstone") and "tombstone" not in rules
    status = "approved" if auto else "proposed"
    with state.begin() as conn:
        conn.execute(tables.batches.insert().values(
            batch_id=batch_id, store=plan.store, as_of=plan.as_of, schedule_version=plan.schedule.version,
            status=status, created_by=created_by, created_at=_now(), approved_by=AUTO_APPROVER if auto else None,
            decided_at=_now() if auto else None, counts=json.dumps(counts, sort_keys=True)))
        conn.execute(tables.batch_items.insert(), [
            {"batch_id": batch_id, "case_id": d.case_id, "case_type": d.case_type, "rule_id": d.rule_id,
             "action": d.action, "chunk_no": n // chunk_size, "state": "pending", "skip_reason": None}
            for n, d in enumerate(sorted(due, key=lambda d: d.case_id))
        ])
        ledger.append(actor=created_by, action="retention.batch.proposed", store=plan.store,
                      counts={"cases": len(due), **{f"action.{k}": v for k, v in counts["by_action"].items()}},
                      details={"batch_id": batch_id, "as_of": plan.as_of.isoformat(),
                               "schedule_version": plan.schedule.version, "auto_approved": auto},
                      connection=conn if ledger.shares_database(state) else None)
    return load_batch(state, batch_id)


def load_batch(state: Engine, batch_id: str) -> Batch:
    with state.connect() as conn:
        row = conn.execute(sa.select(tables.batches).where(tables.batches.c.batch_id == batch_id)).first()
        if row is None:
            raise ConfigError(f"no retention batch {batch_id!r}")
        chunk_count = conn.execute(sa.select(sa.func.count(sa.distinct(tables.batch_items.c.chunk_no)))
                                   .where(tables.batch_items.c.batch_id == batch_id)).scalar_one()
    return Batch(row.batch_id, row.store, row.as_of, row.schedule_version, row.status, row.created_by,
                 row.approved_by, json.loads(row.counts), int(chunk_count))


def _decide(state: Engine, ledger: Ledger, batch_id: str, *, by: str, approve: bool, note: str | None,
            schedule: Schedule, rejection_days: int | None = None) -> Batch:
    if not by or not by.strip():
        raise ConfigError("a reviewer's name is needed")
    if not approve and (not note or not note.strip()):
        raise ConfigError(f"batch {batch_id}: a rejection needs a reason (--reason); the batch stays proposed")
    batch = load_batch(state, batch_id)
    if batch.status != "proposed":
        raise GovernanceError(f"batch {batch_id} is {batch.status}, not awaiting review")
    with state.connect() as conn:
        rule_ids = conn.execute(sa.select(tables.batch_items.c.rule_id).distinct()
                                .where(tables.batch_items.c.batch_id == batch_id)).scalars().all()
    two_person = any(schedule.rule(r).two_person for r in rule_ids if r != "tombstone") or "tombstone" in rule_ids
    if approve and two_person and by.strip().lower() == batch.created_by.strip().lower():
        raise GovernanceError(f"batch {batch_id}: two-person rule: {by} created it and cannot approve it")
    status = "approved" if approve else "rejected"
    decided_at = _now()
    details: dict = {"batch_id": batch_id}
    with state.begin() as conn:
        changed = conn.execute(tables.batches.update()
                               .where(tables.batches.c.batch_id == batch_id, tables.batches.c.status == "proposed")
                               .values(status=status, approved_by=by, decided_at=decided_at,
                                       decision_note=note[:400] if note else None)).rowcount
        if not changed:
            raise GovernanceError(f"batch {batch_id} was decided by someone else meanwhile")
        if not approve:
            days = _rejection_days(rejection_days)
            case_ids = conn.execute(sa.select(tables.batch_items.c.case_id)
                                    .where(tables.batch_items.c.batch_id == batch_id)).scalars().all()
            expires = record_rejection(conn, store=batch.store, batch_id=batch_id, case_ids=case_ids, rejected_by=by,
                                       reason=note.strip(), rejected_at=decided_at, days=days)
            details["rejection_expires_on"] = expires.isoformat()
        ledger.append(actor=by, action=f"retention.batch.{status}", store=batch.store, reason=note,
                      counts={"cases": batch.counts["cases"]}, details=details,
                      connection=conn if ledger.shares_database(state) else None)
    return load_batch(state, batch_id)


def approve_batch(state: Engine, ledger: Ledger, batch_id: str, *, approved_by: str, schedule: Schedule,
                  note: str | None = None) -> Batch:
    return _decide(state, ledger, batch_id, by=approved_by, approve=True, note=note, schedule=schedule)


def reject_batch(state: Engine, ledger: Ledger, batch_id: str, *, rejected_by: str, schedule: Schedule,
                 note: str | None = None, rejection_days: int | None = None) -> Batch:
    """Reject (``note`` is the reason, required); the cases stay out of batches for ``rejection_days``."""
    return _decide(state, ledger, batch_id, by=rejected_by, approve=False, note=note, schedule=schedule,
                   rejection_days=rejection_days)

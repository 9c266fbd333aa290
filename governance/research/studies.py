"""The study register: register, approve, look up and list studies.

A study is registered from its specification (:mod:`governance.research.spec`)
and approved by a named approver (in the spec with ``approved_on``, or later
with :func:`approve_study`). Only approved studies get extracts. Registering
the same specification again changes nothing (safe for retries and for a DAG
that registers a folder of specs every run); a changed specification replaces
the old one only while no extract has been released, and sends the study back
for approval unless the new spec carries its own approval.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.errors import StudyNotFound, StudyStateError
from governance.research.recording import RULE, recorded
from governance.research.spec import StudySpec, parse_spec
from governance.state import state_engine

__all__ = ["Study", "register_study", "approve_study", "get_study", "list_studies", "REGISTERED_ACTION",
           "APPROVED_ACTION"]

REGISTERED_ACTION = "research.study_registered"
APPROVED_ACTION = "research.study_approved"


@dataclass(frozen=True)
class Study:
    """A registered study: its register row and its parsed specification."""

    spec: StudySpec
    status: str
    registered_on: date
    approved_on: date | None
    approver: str | None
    key_id: str | None
    key_destroyed_on: date | None
    overdue_since: date | None
    ended_on: date | None
    end_outcome: str | None

    @property
    def study_id(self) -> str:
        return self.spec.study_id

    def summary(self) -> dict[str, Any]:
        """Identifiers, dates and statuses, for XCom, the CLI and reports."""
        s = self.spec
        return {
            "study_id": s.study_id, "status": self.status, "store": s.extract.store, "start_on": s.start_on.isoformat(),
            "end_on": s.end_on.isoformat(), "end_action": s.end_action, "approved_on": _iso(self.approved_on),
            "key_id": self.key_id, "key_destroyed_on": _iso(self.key_destroyed_on),
            "overdue_since": _iso(self.overdue_since), "ended_on": _iso(self.ended_on), "end_outcome": self.end_outcome,
            "k": s.extract.k, "l": s.extract.l, "exclude_opted_out": s.exclude_opted_out,
            "opt_out_scope": s.opt_out_scope,
        }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _study(row: Any) -> Study:
    return Study(spec=parse_spec(json.loads(row.spec_json), source=row.study_id), status=row.status,
                 registered_on=row.registered_on, approved_on=row.approved_on, approver=row.approver,
                 key_id=row.key_id, key_destroyed_on=row.key_destroyed_on, overdue_since=row.overdue_since,
                 ended_on=row.ended_on, end_outcome=row.end_outcome)


def get_study(conn: sa.Connection, study_id: str) -> Study:
    row = conn.execute(sa.select(t.studies).where(t.studies.c.study_id == study_id)).first()
    if row is None:
        raise StudyNotFound(f"no study {study_id!r} is registered")
    return _study(row)


def list_studies(settings: Settings) -> list[Study]:
    with state_engine(settings).connect() as conn:
        return [_study(r) for r in conn.execute(sa.select(t.studies).order_by(t.studies.c.study_id))]


def _row(spec: StudySpec, as_of: date) -> dict[str, Any]:
    approved = spec.approved_on is not None and spec.approver is not None
    return dict(
        title=spec.title, purpose=spec.purpose, approver=spec.approver, recipient=spec.recipient,
        store=spec.extract.store, start_on=spec.start_on, end_on=spec.end_on, end_action=spec.end_action,
        exclude_opted_out=spec.exclude_opted_out, spec_json=spec.to_json(), spec_sha256=spec.sha256(),
        status="approved" if approved else "registered", approved_on=spec.approved_on if approved else None,
        registered_on=as_of,
    )


def register_study(settings: Settings, spec: StudySpec, *, actor: str, as_of: date) -> dict[str, Any]:
    """Register (or re-register) ``spec``; returns ``{"study_id", "status", "changed"}``."""
    with recorded(settings) as rec:
        existing = rec.conn.execute(sa.select(t.studies).where(t.studies.c.study_id == spec.study_id)).first()
        if existing is not None and existing.spec_sha256 == spec.sha256():
            return {"study_id": spec.study_id, "status": existing.status, "changed": False}
        values = _row(spec, as_of)
        if existing is None:
            rec.conn.execute(t.studies.insert().values(study_id=spec.study_id, **values))
        else:
            released = rec.conn.execute(sa.select(sa.func.count()).select_from(t.extracts).where(
                t.extracts.c.study_id == spec.study_id, t.extracts.c.status.in_(("released", "destroyed")))).scalar_one()
            if existing.status == "ended" or released:
                raise StudyStateError(f"study {spec.study_id}: its extract was released; register a new study "
                                      "instead of changing this one")
            rec.conn.execute(t.studies.update().where(t.studies.c.study_id == spec.study_id).values(**values))
        rec.append(actor=actor, action=REGISTERED_ACTION, rule=RULE, store=spec.extract.store,
                   record_ids=[spec.study_id], reason="study registered" if existing is None else "study specification changed",
                   details={"study_id": spec.study_id, "spec_sha256": spec.sha256(), "end_on": spec.end_on.isoformat(),
                            "end_action": spec.end_action, "status": values["status"], "as_of": as_of.isoformat()})
    return {"study_id": spec.study_id, "status": values["status"], "changed": True}


def approve_study(settings: Settings, study_id: str, *, approver: str, actor: str, as_of: date) -> dict[str, Any]:
    """Record the study's approval (idempotent once approved)."""
    if not approver.strip() or len(approver) > 200 or "\n" in approver:
        raise StudyStateError("approver must be one line of at most 200 characters")
    with recorded(settings) as rec:
        study = get_study(rec.conn, study_id)
        if study.status == "approved":
            return {"study_id": study_id, "status": "approved", "changed": False}
        if study.status != "registered":
            raise StudyStateError(f"study {study_id} is {study.status} and cannot be approved")
        rec.conn.execute(t.studies.update().where(t.studies.c.study_id == study_id)
                         .values(status="approved", approver=approver.strip(), approved_on=as_of))
        rec.append(actor=actor, action=APPROVED_ACTION, rule=RULE, store=study.spec.extract.store, record_ids=[study_id],
                   details={"study_id": study_id, "approver": approver.strip(), "as_of": as_of.isoformat()})
    return {"study_id": study_id, "status": "approved", "changed": True}

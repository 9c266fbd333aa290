"""Rejections that stick: a reviewer's "no" keeps the batch's cases out of later batches.

Without this a rejected case is proposed again by the next day's sweep, and one
approval later it is gone, the rejection forgotten. Rejecting a batch records
each of its cases here with the reviewer, the reason and an expiry date
(:data:`DEFAULT_REJECTION_DAYS` after the decision unless the reviewer or the
deployment says otherwise: long enough for the question behind a rejection to be
looked into, short enough that a case is not kept for ever by a forgotten one).
Eligibility excludes such a case (``REJECTED:<batch>``) until the rejection is
lifted (``governance retention rejection lift``, with a reason) or expires; the
next review then shows the earlier decisions on its cases.
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.db import chunked
from governance.errors import ConfigError
from governance.retention import tables

__all__ = ["DEFAULT_REJECTION_DAYS", "rejection_days", "record_rejection", "rejected_cases", "lift_rejection",
           "rejections", "earlier_decisions"]

DEFAULT_REJECTION_DAYS = 90
_ENV = "GOVERNANCE_RETENTION_REJECTION_DAYS"


def rejection_days(given: int | None = None) -> int:
    """How long a rejection stands: ``given``, else the environment's setting, else 90 days."""
    if given is None:
        text = os.environ.get(_ENV, "").strip()
        if not text:
            return DEFAULT_REJECTION_DAYS
        try:
            given = int(text)
        except ValueError:
            raise ConfigError(f"{_ENV} must be a whole number of days, not {text[:20]!r}") from None
    if given < 1:
        raise ConfigError("a rejection must stand for at least 1 day")
    return given


def record_rejection(conn: sa.Connection, *, store: str, batch_id: str, case_ids: Iterable[str], rejected_by: str,
                     reason: str, rejected_at: datetime, days: int) -> date:
    """Record the batch's cases as rejected (in the caller's transaction); returns the expiry date."""
    expires_on = rejected_at.date() + timedelta(days=days)
    rows = [{"store": store, "case_id": c, "batch_id": batch_id, "rejected_by": rejected_by[:100],
             "rejected_at": rejected_at, "reason": reason[:400], "expires_on": expires_on} for c in sorted(set(case_ids))]
    if rows:
        conn.execute(tables.rejections.insert(), rows)
    return expires_on


def _in_force(day: date):
    r = tables.rejections
    return sa.and_(r.c.lifted_at.is_(None), r.c.expires_on > day)


def rejected_cases(state: Engine, store: str, case_ids: list[str], day: date) -> dict[str, list[str]]:
    """case id -> batches whose rejection of it stands on ``day``."""
    r = tables.rejections
    found: dict[str, list[str]] = defaultdict(list)
    with state.connect() as conn:
        # Nothing rejected (the usual case) costs one indexed probe, not a lookup per window of ids.
        if conn.execute(sa.select(r.c.case_id).where(r.c.store == store, _in_force(day)).limit(1)).first() is None:
            return {}
        for part in chunked(case_ids):
            for case_id, batch_id in conn.execute(sa.select(r.c.case_id, r.c.batch_id).where(
                    r.c.store == store, r.c.case_id.in_(part), _in_force(day)).order_by(r.c.batch_id)):
                found[case_id].append(batch_id)
    return dict(found)


def lift_rejection(state: Engine, *, store: str, lifted_by: str, reason: str, now: datetime,
                   batch_id: str | None = None, case_id: str | None = None) -> int:
    """Lift the standing rejections of a batch (or of one case in any batch); returns how many were lifted."""
    if not reason or not reason.strip():
        raise ConfigError("lifting a rejection needs a reason")
    if not lifted_by or not lifted_by.strip():
        raise ConfigError("lifting a rejection needs the name of who lifts it")
    if not batch_id and not case_id:
        raise ConfigError("name the batch (--batch) or the case (--case-id) whose rejection is lifted")
    r = tables.rejections
    query = r.update().where(r.c.store == store, _in_force(now.date()))
    if batch_id:
        query = query.where(r.c.batch_id == batch_id)
    if case_id:
        query = query.where(r.c.case_id == case_id.strip())
    with state.begin() as conn:
        lifted = conn.execute(query.values(lifted_at=now, lifted_by=lifted_by[:100], lift_reason=reason[:400])).rowcount
    if not lifted:
        what = f"batch {batch_id}" if batch_id else f"case {case_id.strip()}"
        raise ConfigError(f"no standing rejection of {what} in store {store}")
    return lifted


def rejections(state: Engine, store: str, day: date) -> list[dict]:
    """Standing rejections on ``day``, one line per batch, with counts."""
    r = tables.rejections
    with state.connect() as conn:
        rows = conn.execute(sa.select(r.c.batch_id, r.c.rejected_by, r.c.reason, r.c.expires_on,
                                      sa.func.count().label("cases"))
                            .where(r.c.store == store, _in_force(day))
                            .group_by(r.c.batch_id, r.c.rejected_by, r.c.reason, r.c.expires_on)
                            .order_by(r.c.batch_id)).all()
    return [{"batch_id": b, "rejected_by": by, "reason": why, "expires_on": exp.isoformat(), "cases": n}
            for b, by, why, exp, n in rows]


def earlier_decisions(state: Engine, store: str, case_ids: list[str]) -> list[dict]:
    """Earlier rejections (standing, lifted or expired) touching these cases: one line per batch, for the review."""
    r = tables.rejections
    found: dict[tuple, int] = defaultdict(int)
    with state.connect() as conn:
        for part in chunked(case_ids):
            for row in conn.execute(sa.select(r.c.batch_id, r.c.rejected_by, r.c.reason, r.c.expires_on,
                                              r.c.lifted_by, r.c.lift_reason)
                                    .where(r.c.store == store, r.c.case_id.in_(part))):
                found[tuple(row)] += 1
    return [{"batch_id": b, "rejected_by": by, "reason": why, "expires_on": exp.isoformat(), "lifted_by": lb,
             "lift_reason": lr, "cases": n} for (b, by, why, exp, lb, lr), n in sorted(found.items())]


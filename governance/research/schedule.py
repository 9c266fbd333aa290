"""What is due on a given day: extracts to build, studies to end, studies overdue.

- **build**: approved studies running on ``as_of`` with no extract built from
  their current specification (a withheld extract is not rebuilt every day: it
  waits for a changed specification or a deliberate ``governance research build``);
- **end**: studies not yet ended whose end date is before ``as_of``;
- **overdue**: studies still not ended more than ``grace_days`` after their end
  date. Each is flagged once in the register and the ledger, and reported on
  every run until it ends.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.recording import RULE, recorded
from governance.state import state_engine

__all__ = ["due_studies", "flag_overdue", "OVERDUE_ACTION"]

OVERDUE_ACTION = "research.study_overdue"


def due_studies(settings: Settings, *, as_of: date) -> dict[str, list[str]]:
    """``{"build": [study ids], "end": [study ids]}`` for ``as_of``."""
    s, e = t.studies, t.extracts
    built = sa.select(e.c.extract_id).where(e.c.study_id == s.c.study_id, e.c.spec_sha256 == s.c.spec_sha256,
                                            e.c.status.in_(("released", "withheld", "destroyed")))
    with state_engine(settings).connect() as conn:
        build = conn.execute(sa.select(s.c.study_id).where(
            s.c.status == "approved", s.c.start_on <= as_of, s.c.end_on >= as_of, ~sa.exists(built))
            .order_by(s.c.study_id)).scalars().all()
        end = conn.execute(sa.select(s.c.study_id).where(s.c.status != "ended", s.c.end_on < as_of)
                           .order_by(s.c.study_id)).scalars().all()
    return {"build": list(build), "end": list(end)}


def flag_overdue(settings: Settings, *, as_of: date, actor: str, grace_days: int = 0) -> list[dict[str, Any]]:
    """Studies past their end date (plus grace) and not ended; newly overdue ones are flagged and ledgered."""
    cutoff = as_of - timedelta(days=grace_days)
    s = t.studies
    with recorded(settings) as rec:
        rows = rec.conn.execute(sa.select(s.c.study_id, s.c.end_on, s.c.overdue_since, s.c.store).where(
            s.c.status != "ended", s.c.end_on < cutoff).order_by(s.c.study_id)).all()
        overdue = []
        for row in rows:
            newly = row.overdue_since is None
            if newly:
                rec.conn.execute(s.update().where(s.c.study_id == row.study_id).values(overdue_since=as_of))
                rec.append(actor=actor, action=OVERDUE_ACTION, rule=RULE, store=row.store, record_ids=[row.study_id],
                           reason="study past its end date and not yet anonymised or destroyed",
                           counts={"days_overdue": (as_of - row.end_on).days},
                           details={"study_id": row.study_id, "end_on": row.end_on.isoformat(), "as_of": as_of.isoformat()})
            overdue.append({"study_id": row.study_id, "end_on": row.end_on.isoformat(),
                            "days_overdue": (as_of - row.end_on).days, "newly_flagged": newly,
                            "overdue_since": (as_of if newly else row.overdue_since).isoformat()})
    return overdue

"""The data-quality gate: no batch is made from a store that has not recently passed validation.

Quarantine keeps individual bad records out of every disposition (see
:mod:`governance.retention.eligibility`); this gate is about the store as a
whole. If the last validation failed (rules that could not run, failing rows
that could not be attributed, too large a share quarantined), or there has been
none for ``max_age``, the quarantine list itself cannot be trusted to be
complete, so nothing is proposed for destruction on a guess.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.errors import GovernanceError

__all__ = ["QualityGateClosed", "check_quality_gate", "DEFAULT_QUALITY_MAX_AGE"]

# The data_quality DAG runs daily; 36 hours leaves room for one late run, not for a missed day.
DEFAULT_QUALITY_MAX_AGE = timedelta(hours=36)


class QualityGateClosed(GovernanceError):
    """The store has no recent passing validation: retention makes no batch."""


def check_quality_gate(state: Engine, store: str, *, max_age: timedelta, now: datetime | None = None) -> dict:
    """The latest validation of ``store``, if it passed within ``max_age``; else :class:`QualityGateClosed`."""
    from governance.quality.tables import runs

    now = now or datetime.now(timezone.utc)
    with state.connect() as conn:
        latest = conn.execute(sa.select(runs).where(runs.c.store == store)
                              .order_by(runs.c.finished_at.desc()).limit(1)).first()
    if latest is None:
        raise QualityGateClosed(f"store {store}: no data-quality run on record; run the data_quality DAG "
                                f"(or `governance quality run --store {store}`) before a retention sweep")
    finished = latest.finished_at if latest.finished_at.tzinfo else latest.finished_at.replace(tzinfo=timezone.utc)
    if not latest.passed:
        raise QualityGateClosed(f"store {store}: the latest data-quality run ({latest.run_id}) failed "
                                f"({latest.gate}); fix or re-run validation before a retention sweep")
    if now - finished > max_age:
        hours = int((now - finished).total_seconds() // 3600)
        raise QualityGateClosed(f"store {store}: the latest passing data-quality run finished {hours} h ago, "
                                f"more than the {int(max_age.total_seconds() // 3600)} h allowed")
    return {"run_id": latest.run_id, "finished_at": finished.isoformat(), "as_of": latest.as_of.isoformat()}

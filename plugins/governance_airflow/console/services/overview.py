"""Overview page (IG): what needs attention, per store and across the platform, with links into Airflow.

Counts and identifiers only. The next sweep comes from Airflow's own metadata
(the ``retention_sweep`` DAG's next run and whether it is paused); everything
else from the platform's state tables and the ledger.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance_airflow.console import context
from governance_airflow.console.services import ledger as ledger_service

__all__ = ["overview", "next_sweep", "STUDY_WARNING_DAYS"]

STUDY_WARNING_DAYS = 30
SWEEP_DAG = "retention_sweep"


def next_sweep(dag_id: str = SWEEP_DAG) -> dict[str, Any]:
    """When Airflow will next run the sweep (None when paused or unknown to this Airflow)."""
    try:
        from airflow.models.dag import DagModel
        from airflow.utils.session import create_session

        with create_session() as session:
            dag = session.get(DagModel, dag_id)
            if dag is None:
                return {"known": False, "paused": None, "next_run": None}
            when = dag.next_dagrun_create_after or dag.next_dagrun
            return {"known": True, "paused": bool(dag.is_paused),
                    "next_run": when.strftime("%Y-%m-%d %H:%M UTC") if when and not dag.is_paused else None}
    except Exception as exc:  # noqa: BLE001 - the page still shows the platform's state without Airflow's
        return {"known": False, "paused": None, "next_run": None, "error": type(exc).__name__}


def _stores(settings: Settings) -> list[dict[str, Any]]:
    from governance.quality.tables import quarantine, runs

    out = []
    with context.state(settings).connect() as conn:
        active = dict(conn.execute(sa.select(quarantine.c.store, sa.func.count()).where(quarantine.c.released_at.is_(None))
                                   .group_by(quarantine.c.store)).all())
        for store in settings.stores:
            last = conn.execute(sa.select(runs).where(runs.c.store == store.name)
                                .order_by(runs.c.finished_at.desc()).limit(1)).mappings().first()
            out.append({"store": store.name, "quarantined": active.get(store.name, 0),
                        "quality_run": None if last is None else {
                            "run_id": last["run_id"], "passed": last["passed"], "gate": last["gate"],
                            "as_of": last["as_of"].isoformat(), "finished_at": last["finished_at"].strftime("%Y-%m-%d %H:%M"),
                            "airflow": not last["run_id"].startswith("cli")}})
    return out


def _awaiting_review(settings: Settings) -> list[dict[str, Any]]:
    from governance.retention import tables

    b = tables.batches
    with context.state(settings).connect() as conn:
        rows = conn.execute(sa.select(b.c.batch_id, b.c.store, b.c.as_of, b.c.created_by, b.c.created_at)
                            .where(b.c.status == "proposed").order_by(b.c.created_at)).all()
    return [{"batch_id": r.batch_id, "store": r.store, "as_of": r.as_of.isoformat(), "created_by": r.created_by}
            for r in rows]


def _findings(settings: Settings) -> dict[str, Any]:
    from governance.sharing.tables import OPEN, findings

    with context.state(settings).connect() as conn:
        rows = conn.execute(sa.select(findings.c.store, findings.c.rule, sa.func.count())
                            .where(findings.c.status == OPEN).group_by(findings.c.store, findings.c.rule)).all()
    return {"total": sum(r[2] for r in rows), "by_rule": [{"store": r[0], "rule": r[1], "count": r[2]} for r in rows]}


def _studies(settings: Settings, as_of: date) -> dict[str, Any]:
    from governance.research import tables as t

    s = t.studies
    with context.state(settings).connect() as conn:
        ending = conn.execute(sa.select(s.c.study_id, s.c.end_on).where(
            s.c.status != "ended", s.c.end_on >= as_of, s.c.end_on <= as_of + timedelta(days=STUDY_WARNING_DAYS))
            .order_by(s.c.end_on)).all()
        overdue = conn.execute(sa.select(s.c.study_id, s.c.end_on).where(s.c.status != "ended", s.c.end_on < as_of)
                               .order_by(s.c.end_on)).all()
    return {"ending": [{"study_id": r.study_id, "end_on": r.end_on.isoformat()} for r in ending],
            "overdue": [{"study_id": r.study_id, "end_on": r.end_on.isoformat()} for r in overdue]}


def _requests(settings: Settings, as_of: date) -> dict[str, Any]:
    from governance.sar.register import due_soon

    with context.state(settings).connect() as conn:
        return due_soon(conn, as_of, 7)


def overview(settings: Settings, as_of: date) -> dict[str, Any]:
    return {"as_of": as_of.isoformat(), "stores": _stores(settings), "sweep": next_sweep(),
            "awaiting_review": _awaiting_review(settings), "requests": _requests(settings, as_of),
            "findings": _findings(settings), "studies": _studies(settings, as_of),
            "ledger": ledger_service.verification(settings)}

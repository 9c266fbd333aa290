"""One store's data-quality run, end to end: validate, quarantine, decide, publish.

This is what the DAG's mapped task, the CLI and the benchmark call. It
returns a JSON-able summary of identifiers and counts: no record content, no
record identifiers either (those are in the quarantine table and the ledger).

**The gate.** Failing records are the expected outcome: they are quarantined
and retention skips their cases, so a store with quarantined records *passes*
and retention may run on it. A store *fails* (``passed`` false: the DAG task
goes red, alerts with counts, and publishes no Asset) only when its
validation cannot be trusted as a basis for retention:

- ``errors``: a rule could not be evaluated (the database refused a query);
- ``unidentified``: failing rows could not all be identified (no identifier,
  or more failures than ``max_ids_per_rule``), so some bad records are not
  quarantined;
- ``share``: more than ``max_quarantined_share`` of the store's cases are
  under quarantine, which points at a broken load or mapping.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.errors import GovernanceError
from governance.quality.options import QualityOptions
from governance.quality.report import QualityReport
from governance.stores.store import CaseStore

__all__ = ["QualityGateError", "run_store", "gate", "gate_message"]


class QualityGateError(GovernanceError):
    """A store failed validation as a whole (see the module's gate); the message holds counts only."""


def gate(report: QualityReport, *, active_cases: int, total_cases: int, options: QualityOptions) -> list[str]:
    """Why the store fails as a whole (empty when it passes)."""
    counts = report.counts()
    reasons = []
    if counts["rules_errored"]:
        reasons.append("errors")
    if counts["unidentified"]:
        reasons.append("unidentified")
    if total_cases and active_cases / total_cases > options.max_quarantined_share:
        reasons.append("share")
    return reasons


def _total_cases(store: CaseStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(store.table("case"))).scalar_one())


def run_store(settings: Settings, store_name: str, options: QualityOptions, *, run_id: str, actor: str,
              at: datetime, publish: bool = True) -> dict[str, Any]:
    """Validate one configured store, sync its quarantine, publish its Data Docs; return the summary."""
    from governance.quality import datadocs, quarantine
    from governance.quality.runner import validate
    from governance.unit import Unit

    with Unit.open(settings) as unit:
        store = unit.store(store_name)
        store.check_schema()
        validation = validate(store, options, run_id=run_id, run_time=at)
        report = validation.report
        synced = quarantine.sync(unit, store, report, run_id=run_id, at=at, actor=actor)
        unit.ledger.checkpoint()
        total = _total_cases(store)
        reasons = gate(report, active_cases=synced.active_cases, total_cases=total, options=options)
        _record_run(unit.state, store_name, run_id=run_id, as_of=options.as_of, passed=not reasons, reasons=reasons)
    counts = {**report.counts(), **synced.counts(), "cases": total}
    summary: dict[str, Any] = {
        "store": store_name,
        "run_id": run_id,
        "as_of": options.as_of.isoformat(),
        "passed": not reasons,
        "gate": reasons,
        "counts": counts,
        "failed_rules": report.summary()["failed_rules"],
        "errored_rules": report.summary()["errored_rules"],
        "skipped_rules": report.summary()["skipped_rules"],
    }
    if publish:
        summary.update(datadocs.publish(validation, unit.objects, extra={
            "passed": summary["passed"], "gate": reasons, "counts": counts}))
    return summary


def _record_run(state: sa.Engine, store: str, *, run_id: str, as_of, passed: bool, reasons: list[str]) -> None:
    """One row per store and run: what the retention sweep's quality gate reads."""
    from governance.quality.tables import runs

    row = {"finished_at": datetime.now(timezone.utc), "as_of": as_of, "passed": passed, "gate": ",".join(reasons)}
    with state.begin() as conn:
        updated = conn.execute(runs.update().where(runs.c.run_id == run_id, runs.c.store == store).values(**row)).rowcount
        if not updated:
            conn.execute(runs.insert().values(run_id=run_id, store=store, **row))


def gate_message(summary: dict[str, Any]) -> str:
    """One line for a failed store: the gate reasons and counts, nothing else."""
    counts = summary["counts"]
    return (f"store {summary['store']} failed validation ({', '.join(summary['gate'])}): "
            f"{counts['rules_errored']} rules errored, {counts['unidentified']} failing rows unidentified, "
            f"{counts['cases_quarantined']} of {counts['cases']} cases quarantined")

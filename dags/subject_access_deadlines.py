"""subject_access_deadlines: a daily alert on access requests near or past their statutory deadline.

Orchestration only: one task, one call into :mod:`governance.jobs.sar`;
``governance`` is imported inside the task, so parsing touches nothing.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import Param, dag, task

from governance_airflow.defaults import default_args

__all__ = ["subject_access_deadlines"]

DOC_MD = """
### Subject access deadlines

**What it does.** Every day, counts the pending access requests whose
statutory deadline (one calendar month from receipt, or three when an
extension was notified in time; next working day after weekends and England &
Wales bank holidays) is within `within_days` (default 7) of the day checked,
and those already overdue. Requests whose clock is stopped (identity,
authority or clarification awaited) are counted apart.

**The alert.** When any request is due soon or overdue, one line on the
`governance.alerts` logger: `GOVERNANCE SAR DEADLINES as_of=... due_soon=N
overdue=N pending=N`: counts only. The task's return value lists the request
ids; `governance sar due --as-of DATE` shows the same.

**Parameters.** `as_of` (YYYY-MM-DD; default: the end of the run's data
interval), `within_days` (default 7).

**Safe to re-run.** It only reads the register.
"""


def _as_of(context: dict[str, Any]) -> str:
    chosen = context["params"].get("as_of")
    if chosen:
        return str(chosen)
    for key in ("data_interval_end", "logical_date"):
        if context.get(key) is not None:
            return context[key].date().isoformat()
    return context["dag_run"].run_after.date().isoformat()


@dag(
    dag_id="subject_access_deadlines",
    schedule="@daily",
    start_date=datetime(2025, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    tags=["governance", "subject-access", "records-management"],
    doc_md=DOC_MD,
    params={
        "as_of": Param(None, type=["null", "string"], format="date",
                       description="day to check; empty: the run's date"),
        "within_days": Param(7, type="integer", minimum=0, maximum=31),
    },
    default_args=default_args(owner="records-management"),
)
def subject_access_deadlines() -> None:
    @task
    def check_deadlines(**context: Any) -> dict[str, Any]:
        """Count requests due within the window or overdue; alert (counts only) if any."""
        from datetime import date

        from governance.jobs.sar import check_deadlines as check
        from governance_airflow.hooks import GovernanceHook

        return check(GovernanceHook().get_settings(), as_of=date.fromisoformat(_as_of(context)),
                     within_days=int(context["params"]["within_days"]), alert=True)

    check_deadlines()


subject_access_deadlines()

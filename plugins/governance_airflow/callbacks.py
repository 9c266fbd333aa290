"""Task callbacks for governance DAGs.

``alert_on_failure`` is every DAG's ``on_failure_callback``: when a task has
failed for the last time (retries exhausted) it writes one log line an on-call
engineer or a log alert rule can act on. The line carries identifiers and
counts only. Exception messages are included only for the platform's own
:class:`~governance.errors.GovernanceError`, whose messages are written to be
free of personal data; any other exception (a database driver's error can echo
row values) is named by its type alone.

This module is imported by DAG files at parse time, so it imports nothing heavy
at module level.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping

__all__ = ["alert_on_failure", "COUNTS_XCOM_KEY", "failure_summary"]

log = logging.getLogger("governance.alerts")

#: XCom key under which a task may push partial counts before it can fail
#: (e.g. ``{"rows_done": 1200}``); the failure alert repeats them.
COUNTS_XCOM_KEY = "counts"


def _safe_counts(value: Any) -> dict[str, int | float]:
    """Numbers only: whatever else was pushed never reaches the alert."""
    if not isinstance(value, Mapping):
        return {}
    return {
        str(key): number
        for key, number in value.items()
        if isinstance(number, (int, float)) and not isinstance(number, bool)
    }


def _error_text(error: BaseException | None) -> str:
    if error is None:
        return "unknown"
    try:
        from governance.errors import GovernanceError
    except ImportError:  # pragma: no cover - governance not on the path
        GovernanceError = ()  # type: ignore[assignment,misc]
    if isinstance(error, GovernanceError):
        # One line by contract; collapse anything else to be sure.
        return f"{type(error).__name__}: {' '.join(str(error).split())}"
    return type(error).__name__


def failure_summary(context: Mapping[str, Any]) -> dict[str, Any]:
    """The alert's fields, from an Airflow task context."""
    ti = context.get("ti") or context.get("task_instance")
    counts: dict[str, int | float] = {}
    if ti is not None:
        try:
            counts = _safe_counts(ti.xcom_pull(task_ids=ti.task_id, key=COUNTS_XCOM_KEY))
        except Exception:  # noqa: BLE001 - an alert must never fail on the way out
            counts = {}
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    return {
        "dag_id": getattr(ti, "dag_id", None) or getattr(context.get("dag"), "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": run_id,
        "try_number": getattr(ti, "try_number", None),
        "map_index": getattr(ti, "map_index", -1),
        "error": _error_text(context.get("exception")),
        "counts": counts,
    }


def alert_on_failure(context: Mapping[str, Any]) -> None:
    """Log one line naming the failed task, its run, the try and any counts."""
    summary = failure_summary(context)
    counts = " ".join(f"{k}={v}" for k, v in sorted(summary["counts"].items()))
    log.error(
        "GOVERNANCE TASK FAILED dag_id=%s task_id=%s run_id=%s try_number=%s map_index=%s error=%s%s",
        summary["dag_id"],
        summary["task_id"],
        summary["run_id"],
        summary["try_number"],
        summary["map_index"],
        summary["error"],
        f" counts: {counts}" if counts else "",
    )

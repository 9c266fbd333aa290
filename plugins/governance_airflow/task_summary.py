"""A readable summary of what a governance task did, at the end of its log.

Airflow's PythonOperator ends a task log with ``Done. Returned value was:
{...}``: the whole return value on one line (a review's markdown included).
:class:`TaskSummaryListener`, an Airflow listener registered by the console
plugin, adds after it one line per count, identifier and URI the task returned,
for tasks of the governance DAGs (owner ``information-governance``). Return
values carry identifiers and counts only (house rule 3); this helper shows
numbers, booleans and short single-line strings, and leaves out anything else
(long or multi-line text such as a review's markdown is named, not shown).

A task that returned nothing (``None`` is not pushed) has no XCom to pull, and
Airflow's XCom client logs a pull of a missing one at error level ("XCom not
found"): a red line in a log that went well. So the listener first asks how many
return values the task stored (a count, which does not log) and pulls only if
there is one.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.listeners import hookimpl

__all__ = ["summary_lines", "TaskSummaryListener", "GOVERNANCE_OWNER"]

GOVERNANCE_OWNER = "information-governance"
MAX_LINES = 60
MAX_TEXT = 120
log = logging.getLogger("airflow.task")


def _flatten(value: Any, prefix: str, out: list[str]) -> None:
    if len(out) >= MAX_LINES:
        return
    if isinstance(value, dict):
        if not value and prefix:
            out.append(f"{prefix}: none")
        for key in sorted(value, key=str):
            _flatten(value[key], f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, (list, tuple)):
        scalars = all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value)
        if scalars and len(value) <= 8 and all(len(str(v)) <= 40 for v in value):
            out.append(f"{prefix}: {', '.join(str(v) for v in value) or 'none'}")
        else:
            out.append(f"{prefix}: {len(value)} items")
    elif value is None or isinstance(value, (bool, int, float)):
        out.append(f"{prefix}: {value}")
    else:
        text = str(value)
        out.append(f"{prefix}: {text}" if len(text) <= MAX_TEXT and "\n" not in text
                   else f"{prefix}: ({len(text)} characters, not shown)")


def summary_lines(value: Any) -> list[str]:
    """``{"batch_id": "B-1", "due_by_class": {"early_help": 3}}`` -> ["batch_id: B-1", "due_by_class.early_help: 3"]."""
    out: list[str] = []
    _flatten(value if isinstance(value, dict) else {"result": value}, "", out)
    if len(out) >= MAX_LINES:
        out.append(f"... (first {MAX_LINES} lines)")
    return out


def _returned_something(task_instance: Any) -> bool:
    """Whether the task stored a return value (any map index), asked as a count through the task
    runner's channel to the supervisor; True where there is no such channel (pull and see)."""
    try:
        from airflow.sdk.execution_time import task_runner
        from airflow.sdk.execution_time.comms import GetXComCount, XComCountResponse
    except ImportError:  # pragma: no cover - an Airflow without the task SDK
        return True
    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None:
        return True
    answer = comms.send(GetXComCount(key="return_value", dag_id=task_instance.dag_id, run_id=task_instance.run_id,
                                     task_id=task_instance.task_id))
    return not isinstance(answer, XComCountResponse) or answer.len > 0


class TaskSummaryListener:
    """Logs :func:`summary_lines` of a governance task's return value when it succeeds."""

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        task = getattr(task_instance, "task", None)
        if task is None or getattr(task, "owner", None) != GOVERNANCE_OWNER or not hasattr(task_instance, "xcom_pull"):
            return  # not ours, or a state set through the API (no running task here)
        try:
            if not _returned_something(task_instance):
                return  # nothing returned: nothing to summarise, and no "XCom not found" error line
            value = task_instance.xcom_pull(task_ids=task_instance.task_id, key="return_value",
                                            map_indexes=getattr(task_instance, "map_index", None))
        except Exception as exc:  # noqa: BLE001 - a summary must never fail a task
            log.info("governance summary unavailable (%s)", type(exc).__name__)
            return
        if value is None:
            return
        log.info("governance summary of %s:\n  %s", task_instance.task_id, "\n  ".join(summary_lines(value)))

"""Operators where a TaskFlow task is not enough.

:class:`RecordedApprovalOperator` is the standard provider's ApprovalOperator
with one addition: it pushes the reviewer's response (chosen option and who
chose it) to XCom under the key ``review`` before acting on it. On Reject the
ApprovalOperator skips its downstream tasks by raising, and Airflow then pushes
no return value, so without this the platform could not record who rejected a
batch.
"""

from __future__ import annotations

from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator

__all__ = ["RecordedApprovalOperator", "REVIEW_XCOM_KEY"]

REVIEW_XCOM_KEY = "review"


class RecordedApprovalOperator(ApprovalOperator):
    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if "error" not in event:
            user = event.get("responded_by_user") or {}
            context["ti"].xcom_push(key=REVIEW_XCOM_KEY, value={
                "chosen_options": list(event.get("chosen_options") or []),
                "responded_by_user": {"id": user.get("id"), "name": user.get("name")},
                "params_input": dict(event.get("params_input") or {}),  # the reviewer's reason
            })
        return super().execute_complete(context=context, event=event)

"""Airflow's forms as platform calls: the trigger form's fields, the review form's answer.

Plain Python (no Airflow import): the DAG hands over the form's values and
the human-in-the-loop response as dicts, and gets back what to call. Empty
fields mean "not given", because a trigger form cannot leave a field unset.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from governance.sar.register import RequestError

__all__ = ["lodging_from_params", "decision_from_response", "APPROVE", "SEND_BACK"]

APPROVE = "Approve"
SEND_BACK = "Send back"
_REQUESTER_FIELDS = ("requester_person_id", "parent_basis", "child_competence", "competence_assessed_by",
                     "competence_assessed_on", "child_view", "authority_evidence")


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise RequestError(f"form field {name} is not a date in YYYY-MM-DD form") from None


def lodging_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``lodge_request`` from the trigger form's fields."""
    subject = str(params.get("subject_person_id") or "").strip()
    received = _date(params.get("received_on"), "received_on")
    if not subject or received is None:
        raise RequestError("to lodge a request give subject_person_id and received_on (or an existing request_id)")
    requester = {f: (str(params.get(f)).strip() or None) if params.get(f) not in (None, "") else None
                 for f in _REQUESTER_FIELDS}
    requester["competence_assessed_on"] = _date(params.get("competence_assessed_on"), "competence_assessed_on")
    return {
        "store": str(params.get("store") or "default"),
        "subject_person_id": subject,
        "received_on": received,
        "requester_kind": str(params.get("requester_kind") or "subject"),
        "identity_requested": bool(params.get("identity_requested")),
        "authority_requested": bool(params.get("authority_requested")),
        **requester,
    }


def decision_from_response(response: Mapping[str, Any] | None) -> tuple[str, str, str | None] | None:
    """(decision, reviewer, reason code) from a human-in-the-loop response; None if there was none."""
    if not response:
        return None
    chosen = list(response.get("chosen_options") or [])
    user = response.get("responded_by_user") or {}
    reviewer = str(user.get("name") or user.get("id") or "").strip()
    if not reviewer:
        raise RequestError("the review response names no reviewer")
    if chosen == [APPROVE]:
        return "approved", reviewer, None
    if chosen == [SEND_BACK]:
        reason = (response.get("params_input") or {}).get("send_back_reason") or "other"
        return "sent_back", reviewer, str(reason)
    raise RequestError(f"the review response chose {len(chosen)} option(s), not Approve or Send back")

"""Airflow's forms as platform calls: the trigger form's fields, the review form's answer.

Plain Python (no Airflow import): the DAG hands over the form's values and
the human-in-the-loop response as dicts, and gets back what to call.

The trigger form (see ``dags/subject_access.py``): every optional field is
nullable, so an empty field arrives as ``None`` (or ``""`` from older
clients; both mean "not given"). Only the fields that apply to the requester
kind are read: a self-request ignores the parent's and the agent's fields, a
parent's request ignores the agent's, an agent's ignores the parent's.
Everything the form's schema cannot say (a new request needs a subject and a
date; which fields a kind needs) is checked here, and refused in one line
naming the field, before anything is lodged.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Mapping

from governance.sar.register import REQUESTER_KINDS, RequestError, check_requester

__all__ = ["lodging_from_params", "decision_from_response", "requester_fields", "APPROVE", "SEND_BACK",
           "WITHHOLD_UNDECIDED"]

APPROVE = "Approve"
SEND_BACK = "Send back"
WITHHOLD_UNDECIDED = "withhold_undecided_flagged_notes"
# Which of the form's requester fields each kind of requester reads.
_PARENT = ("parent_basis", "child_competence", "competence_assessed_by", "competence_assessed_on", "child_view")
_BY_KIND = {
    "subject": (),
    "parent_carer": ("requester_person_id", *_PARENT),
    "agent": ("requester_person_id", "authority_evidence"),
}


def requester_fields(kind: str) -> tuple[str, ...]:
    return _BY_KIND[kind]


def _text(params: Mapping[str, Any], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise RequestError(f"form field {name} is not a date in YYYY-MM-DD form") from None


def lodging_from_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``lodge_request`` from the trigger form's fields."""
    subject = _text(params, "subject_person_id")
    received = _date(params.get("received_on"), "received_on")
    if subject is None:
        raise RequestError("form field subject_person_id is needed to lodge a request (or give an existing request_id)")
    if received is None:
        raise RequestError("form field received_on is needed to lodge a request (or give an existing request_id)")
    kind = _text(params, "requester_kind") or "subject"
    if kind not in REQUESTER_KINDS:
        raise RequestError(f"form field requester_kind must be one of {', '.join(REQUESTER_KINDS)}")
    requester: dict[str, Any] = {name: _text(params, name) for name in requester_fields(kind)}
    if "competence_assessed_on" in requester:
        requester["competence_assessed_on"] = _date(params.get("competence_assessed_on"), "competence_assessed_on")
    # The rules a form can break, checked before the store is opened (the subject's age is checked at lodging).
    check_requester(kind, {k: v for k, v in requester.items() if v is not None}, None, received)
    return {
        "store": _text(params, "store") or "default",
        "subject_person_id": subject,
        "received_on": received,
        "requester_kind": kind,
        "identity_requested": bool(params.get("identity_requested")),
        "authority_requested": bool(params.get("authority_requested")) and kind != "subject",
        **requester,
    }


def decision_from_response(response: Mapping[str, Any] | None) -> tuple[str, str, str | None, bool] | None:
    """(decision, reviewer, reason code, withhold undecided flagged notes) from a response; None if none."""
    if not response:
        return None
    chosen = list(response.get("chosen_options") or [])
    user = response.get("responded_by_user") or {}
    reviewer = str(user.get("name") or user.get("id") or "").strip()
    if not reviewer:
        raise RequestError("the review response names no reviewer")
    given = response.get("params_input") or {}
    if chosen == [APPROVE]:
        return "approved", reviewer, None, bool(given.get(WITHHOLD_UNDECIDED))
    if chosen == [SEND_BACK]:
        return "sent_back", reviewer, str(given.get("send_back_reason") or "other"), False
    raise RequestError(f"the review response chose {len(chosen)} option(s), not Approve or Send back")

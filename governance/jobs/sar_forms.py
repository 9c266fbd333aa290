"""Jobs behind ``subject_access``'s forms: the trigger form lodges, the review form decides.

The form values arrive as plain dicts (:mod:`governance.sar.forms` reads
them); each job calls the same jobs the CLI calls (:mod:`governance.jobs.sar`).
The review form shows ids, codes, rules and labels, never record text.
"""

from __future__ import annotations

from typing import Any

from governance.config import Settings
from governance.jobs.sar import lodge_request, prepare_review, record_review
from governance.sar import register
from governance.state import state_engine

__all__ = ["lodge_from_params", "prepare_review_for_airflow", "record_airflow_review"]


def lodge_from_params(settings: Settings, params: dict[str, Any], *, run_id: str, actor: str) -> dict[str, Any]:
    """The trigger form: an existing ``request_id``, or a new request (its id derived from the run)."""
    from governance.sar.forms import lodging_from_params

    existing = str(params.get("request_id") or "").strip()
    if existing:
        with state_engine(settings).connect() as conn:
            row = register.get_request(conn, existing)
        return {"request_id": existing, "created": False, "status": row["status"], "store": row["store"],
                "deadline": row["deadline"].isoformat() if row["deadline"] else None}
    return lodge_request(settings, actor=actor, salt=run_id, **lodging_from_params(params))


def prepare_review_for_airflow(settings: Settings, request_id: str) -> dict[str, Any]:
    """:func:`prepare_review` plus the pack as the review form shows it: ids, codes, rules and labels, no text.

    Record text never enters Airflow (XCom, rendered templates and the form are
    kept with the run and readable by everyone who can see the DAG); the form
    lists every redaction by record, label, code and rule, and points to
    ``governance sar preview``, where the same labels highlight the text.
    """
    from governance.sar.review import pack_markdown

    pack = prepare_review(settings, request_id, labels=True)
    hint = (f"Read every record with these redactions highlighted: `governance sar preview --request {request_id}`"
            " (add `--html FILE` for a page). Approving with *withhold undecided flagged notes* accepts the "
            "proposed withholding of every flagged note not yet decided.")
    pack["markdown"] = pack_markdown(pack, preview_hint=hint) + "\n\n" + pack.pop("labels_markdown")
    return pack


def record_airflow_review(settings: Settings, pack: dict[str, Any], response: dict[str, Any] | None, *,
                          actor: str) -> dict[str, Any]:
    """The review form's answer, recorded; a pack approved earlier on the command line passes as it is."""
    from governance.sar.forms import decision_from_response

    decided = decision_from_response(response)
    if decided is None:
        if not pack.get("approved"):
            raise register.RequestError(f"request {pack['request_id']}: no review response and no earlier approval")
        return {"request_id": pack["request_id"], "approved": True, "decision": "approved", "channel": "cli"}
    decision, reviewer, reason, withhold_undecided = decided
    return record_review(settings, pack["request_id"], decision=decision, reviewer=reviewer,
                         seen_hash=pack["pack_hash"], channel="airflow", actor=actor, reason_code=reason,
                         stale="send_back", withhold_undecided=withhold_undecided)

"""The request register: who asked, for whom, when; pauses, extension, status, deadline.

A row in ``sar_requests`` with a pending status is also a hold: the retention
sweep keeps every case of the subject while it stands (DPA 2018 s.173). The
hold is released by the status becoming ``delivered``, ``closed`` or
``withdrawn``, and nothing else.

Who may ask (domain.md, ICO): the subject; a parent or carer for a child, if
the child authorises it, lacks the understanding to ask, or it is clearly in
the child's interest, with the child's competence assessment and the child's
view recorded; an agent with written authority. Functions take a connection
and explicit times; none reads the clock.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.sar.deadlines import Deadline, calculate_deadline
from governance.sar.tables import CLOSED_STATUSES, PENDING_STATUSES, disclosures, pauses, records, requests

__all__ = [
    "RequestError",
    "REQUESTER_KINDS",
    "PARENT_BASES",
    "CHILD_VIEWS",
    "AUTHORITY_EVIDENCE",
    "PAUSE_REASONS",
    "new_request_id",
    "lodge",
    "get_request",
    "pause",
    "resume",
    "extend",
    "set_status",
    "close",
    "deadline_of",
    "list_requests",
    "due_soon",
    "age_on",
    "check_requester",
    "disclosure_of",
    "record_disclosure",
]

REQUESTER_KINDS = ("subject", "parent_carer", "agent")
PARENT_BASES = ("child_authorised", "child_lacks_understanding", "child_best_interest")
CHILD_VIEWS = ("agrees", "objects", "no_view", "unable_to_express")
COMPETENCE = ("competent", "not_competent")
AUTHORITY_EVIDENCE = ("written_authority", "lasting_power_of_attorney", "court_order", "other")
PAUSE_REASONS = ("identity", "authority", "clarification")
EXTENSION_REASONS = ("complex", "numerous")
_REQUEST_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,62}$")


class RequestError(GovernanceError):
    """A request is unknown or the change asked for breaks a rule (message: ids and rules only)."""


def new_request_id(store: str, subject_person_id: str, received_on: date, salt: str = "") -> str:
    """A stable id: the same lodging (same salt, e.g. a DAG run id) gives the same id."""
    digest = hashlib.sha256(f"{store}\x1f{subject_person_id}\x1f{received_on}\x1f{salt}".encode()).hexdigest()
    return f"sar-{received_on:%Y%m%d}-{digest[:8]}"


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def check_requester(kind: str, fields: dict[str, Any], subject_dob: date | None, received_on: date) -> None:
    if kind not in REQUESTER_KINDS:
        raise RequestError(f"requester kind {kind!r} is not one of {', '.join(REQUESTER_KINDS)}")
    if kind == "parent_carer":
        missing = [f for f in ("parent_basis", "child_competence", "competence_assessed_by", "competence_assessed_on",
                               "child_view") if not fields.get(f)]
        if missing:
            raise RequestError(f"a parent's request for a child needs {', '.join(missing)} recorded")
        if fields["parent_basis"] not in PARENT_BASES:
            raise RequestError(f"parent basis {fields['parent_basis']!r} is not one of {', '.join(PARENT_BASES)}")
        if fields["child_competence"] not in COMPETENCE:
            raise RequestError(f"child competence {fields['child_competence']!r} is not one of {', '.join(COMPETENCE)}")
        if fields["child_view"] not in CHILD_VIEWS:
            raise RequestError(f"child view {fields['child_view']!r} is not one of {', '.join(CHILD_VIEWS)}")
        if fields["parent_basis"] == "child_authorised" and fields["child_view"] != "agrees":
            raise RequestError("parent basis child_authorised needs the child's view recorded as agrees")
        if fields["parent_basis"] == "child_lacks_understanding" and fields["child_competence"] != "not_competent":
            raise RequestError("parent basis child_lacks_understanding contradicts a competent assessment")
        if subject_dob is not None and age_on(subject_dob, received_on) >= 18:
            raise RequestError("the subject was an adult when the request was received: a parent needs the "
                               "subject's authority (requester kind agent)")
    elif kind == "agent":
        evidence = fields.get("authority_evidence")
        if evidence not in AUTHORITY_EVIDENCE:
            raise RequestError(f"an agent's request needs authority evidence, one of {', '.join(AUTHORITY_EVIDENCE)}")
    else:
        stray = [f for f in ("parent_basis", "child_competence", "child_view", "authority_evidence") if fields.get(f)]
        if stray:
            raise RequestError(f"a request by the subject takes no {', '.join(stray)}")


def lodge(
    conn: sa.Connection,
    *,
    request_id: str,
    store: str,
    subject_person_id: str,
    received_on: date,
    at: datetime,
    requester_kind: str = "subject",
    subject_dob: date | None = None,
    identity_requested: bool = False,
    authority_requested: bool = False,
    **requester: Any,
) -> tuple[dict[str, Any], bool]:
    """Register a request; returns (row, created). Lodging the same request again returns it unchanged."""
    if not _REQUEST_ID.match(request_id):
        raise RequestError(f"request id {request_id!r} must be 3-63 of a-z, 0-9 and -")
    existing = conn.execute(sa.select(requests).where(requests.c.request_id == request_id)).mappings().first()
    if existing is not None:
        if (existing["store"], existing["subject_person_id"], existing["received_on"]) != (store, subject_person_id, received_on):
            raise RequestError(f"request {request_id} already exists for another subject or date")
        return dict(existing), False
    allowed = {"requester_person_id", "parent_basis", "child_competence", "competence_assessed_by",
               "competence_assessed_on", "child_view", "authority_evidence", "electronic"}
    unknown = set(requester) - allowed
    if unknown:
        raise RequestError(f"unknown request field(s): {', '.join(sorted(unknown))}")
    fields = {k: v for k, v in requester.items() if v not in (None, "")}
    check_requester(requester_kind, fields, subject_dob, received_on)
    if authority_requested and requester_kind == "subject":
        raise RequestError("authority is awaited only for a parent's or an agent's request")
    status = "awaiting_identity" if identity_requested or authority_requested else "received"
    conn.execute(requests.insert().values(
        request_id=request_id, store=store, subject_person_id=subject_person_id, status=status,
        received_on=received_on, created_at=at, updated_at=at, requester_kind=requester_kind,
        electronic=fields.pop("electronic", True), **fields,
    ))
    for reason, wanted in (("identity", identity_requested), ("authority", authority_requested)):
        if wanted:
            conn.execute(pauses.insert().values(request_id=request_id, reason=reason, started_on=received_on))
    _store_deadline(conn, request_id, at)
    return get_request(conn, request_id), True


def get_request(conn: sa.Connection, request_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(requests).where(requests.c.request_id == request_id)).mappings().first()
    if row is None:
        raise RequestError(f"no access request {request_id[:80]!r}")
    return dict(row)


def _pauses(conn: sa.Connection, request_id: str) -> list[dict[str, Any]]:
    query = sa.select(pauses).where(pauses.c.request_id == request_id).order_by(pauses.c.started_on, pauses.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def deadline_of(conn: sa.Connection, request_id: str) -> Deadline | None:
    """The request's deadline now; None while identity, authority or clarification is awaited."""
    row = get_request(conn, request_id)
    rows = _pauses(conn, request_id)
    if any(p["ended_on"] is None for p in rows):
        return None
    start_events = [p["ended_on"] for p in rows if p["reason"] in ("identity", "authority")]
    clarifications = [(p["started_on"], p["ended_on"]) for p in rows if p["reason"] == "clarification"]
    return calculate_deadline(
        row["received_on"],
        id_received=max(start_events) if start_events else None,
        extended_on=row["extended_on"],
        clarifications=clarifications,
    )


def _store_deadline(conn: sa.Connection, request_id: str, at: datetime) -> None:
    deadline = deadline_of(conn, request_id)
    conn.execute(requests.update().where(requests.c.request_id == request_id).values(
        deadline=deadline.deadline if deadline else None, updated_at=at))


def _require_pending(row: dict[str, Any]) -> None:
    if row["status"] not in PENDING_STATUSES:
        raise RequestError(f"request {row['request_id']} is {row['status']}: no further changes")


def pause(conn: sa.Connection, request_id: str, reason: str, on: date, at: datetime) -> dict[str, Any]:
    """Identity, authority or clarification asked for on ``on``: the clock waits."""
    row = get_request(conn, request_id)
    _require_pending(row)
    if reason not in PAUSE_REASONS:
        raise RequestError(f"pause reason {reason!r} is not one of {', '.join(PAUSE_REASONS)}")
    if on < row["received_on"]:
        raise RequestError(f"request {request_id}: a pause cannot start before the request was received")
    if any(p["reason"] == reason and p["ended_on"] is None for p in _pauses(conn, request_id)):
        raise RequestError(f"request {request_id} is already awaiting {reason}")
    conn.execute(pauses.insert().values(request_id=request_id, reason=reason, started_on=on))
    status = "awaiting_clarification" if reason == "clarification" else "awaiting_identity"
    conn.execute(requests.update().where(requests.c.request_id == request_id).values(status=status))
    _store_deadline(conn, request_id, at)
    return get_request(conn, request_id)


def resume(conn: sa.Connection, request_id: str, reason: str, on: date, at: datetime) -> dict[str, Any]:
    """What was awaited arrived on ``on``: the clock runs again."""
    row = get_request(conn, request_id)
    _require_pending(row)
    open_ = [p for p in _pauses(conn, request_id) if p["reason"] == reason and p["ended_on"] is None]
    if not open_:
        raise RequestError(f"request {request_id} is not awaiting {reason}")
    if on < open_[0]["started_on"]:
        raise RequestError(f"request {request_id}: {reason} cannot arrive before it was asked for")
    conn.execute(pauses.update().where(pauses.c.id == open_[0]["id"]).values(ended_on=on))
    still = [p for p in _pauses(conn, request_id) if p["ended_on"] is None]
    if not still:
        found = conn.execute(sa.select(sa.func.count()).select_from(records)
                             .where(records.c.request_id == request_id)).scalar_one()
        status = "in_progress" if found else "received"
    else:
        status = "awaiting_clarification" if still[0]["reason"] == "clarification" else "awaiting_identity"
    conn.execute(requests.update().where(requests.c.request_id == request_id).values(status=status))
    _store_deadline(conn, request_id, at)
    return get_request(conn, request_id)


def extend(conn: sa.Connection, request_id: str, notified_on: date, reason: str, at: datetime) -> dict[str, Any]:
    """Record that the requester was told of an extension (with reasons) on ``notified_on``."""
    row = get_request(conn, request_id)
    _require_pending(row)
    if reason not in EXTENSION_REASONS:
        raise RequestError(f"extension reason {reason!r} is not one of {', '.join(EXTENSION_REASONS)}")
    conn.execute(requests.update().where(requests.c.request_id == request_id).values(
        extended_on=notified_on, extension_reason=reason))
    _store_deadline(conn, request_id, at)
    return get_request(conn, request_id)


def set_status(conn: sa.Connection, request_id: str, status: str, at: datetime) -> None:
    """Move a pending request on; a closing status releases the hold."""
    row = get_request(conn, request_id)
    _require_pending(row)
    if status not in PENDING_STATUSES + CLOSED_STATUSES:
        raise RequestError(f"status {status!r} is not a request status")
    values: dict[str, Any] = {"status": status, "updated_at": at}
    if status in CLOSED_STATUSES:
        values["closed_at"] = at
    conn.execute(requests.update().where(requests.c.request_id == request_id).values(**values))


def close(conn: sa.Connection, request_id: str, status: str, at: datetime) -> None:
    """Close without a bundle (``closed`` or ``withdrawn``): the hold is released."""
    if status not in ("closed", "withdrawn"):
        raise RequestError("a request is closed as closed or withdrawn (delivery closes it as delivered)")
    set_status(conn, request_id, status, at)


def list_requests(conn: sa.Connection, *, store: str | None = None, pending: bool = False) -> list[dict[str, Any]]:
    query = sa.select(requests).order_by(requests.c.received_on, requests.c.request_id)
    if store:
        query = query.where(requests.c.store == store)
    if pending:
        query = query.where(requests.c.status.in_(PENDING_STATUSES))
    return [dict(r) for r in conn.execute(query).mappings()]


def due_soon(conn: sa.Connection, as_of: date, within_days: int = 7) -> dict[str, Any]:
    """Pending requests due within ``within_days`` of ``as_of`` or overdue (ids and counts)."""
    rows = list_requests(conn, pending=True)
    limit = as_of + timedelta(days=within_days)
    overdue = [r["request_id"] for r in rows if r["deadline"] is not None and r["deadline"] < as_of]
    soon = [r["request_id"] for r in rows if r["deadline"] is not None and as_of <= r["deadline"] <= limit]
    paused = [r["request_id"] for r in rows if r["deadline"] is None]
    return {
        "as_of": as_of.isoformat(),
        "within_days": within_days,
        "pending": len(rows),
        "due_soon": len(soon),
        "overdue": len(overdue),
        "clock_stopped": len(paused),
        "due_soon_ids": soon,
        "overdue_ids": overdue,
    }


def disclosure_of(conn: sa.Connection, request_id: str) -> dict[str, Any] | None:
    """The request's disclosure (``sar_disclosures``), if it was delivered."""
    row = conn.execute(sa.select(disclosures).where(disclosures.c.request_id == request_id)).mappings().first()
    return dict(row) if row else None


def record_disclosure(conn: sa.Connection, row: dict[str, Any], at: datetime) -> None:
    """Record the disclosure and mark the request delivered: the hold is released."""
    conn.execute(disclosures.insert().values(**row))
    set_status(conn, row["request_id"], "delivered", at)

"""The reviewer's own rows: exemptions, lifts, withdrawals, decisions on flagged notes, confirmations.

Stored in ``sar_manual_redactions`` with the reviewer's name and reason (ids,
offsets and codes; the reason stays in the state database). Offsets are
resolved from quoted text or a preview label by :mod:`governance.sar.preview`;
no reviewer types them. Any change withdraws an earlier approval (the pack
must be reviewed again). :func:`reviewer_redactions` hands the rows in force
to the redaction engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from governance.sar.exemptions import THIRD_PARTY, exemption
from governance.sar.redaction import WHOLE_RECORD, Redaction
from governance.sar.register import RequestError, get_request, set_status
from governance.sar.tables import PENDING_STATUSES, manual_redactions

__all__ = ["ReviewerDecisions", "reviewer_redactions", "awaiting_confirmation", "apply_exemption", "lift_withholding",
           "lift_span", "withdraw_exemption", "decide_flagged", "confirm_exemption", "manual_rows"]


def _require_open(conn: sa.Connection, request_id: str) -> None:
    status = get_request(conn, request_id)["status"]
    if status not in PENDING_STATUSES:
        raise RequestError(f"request {request_id} is {status}: its exemptions can no longer change")


def _reopen(conn: sa.Connection, request_id: str, at: datetime) -> None:
    """A change to the exemptions withdraws an approval: the pack must be reviewed again."""
    if get_request(conn, request_id)["status"] == "approved":
        set_status(conn, request_id, "in_progress", at)


def manual_rows(conn: sa.Connection, request_id: str) -> list[dict[str, Any]]:
    query = sa.select(manual_redactions).where(manual_redactions.c.request_id == request_id).order_by(manual_redactions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


@dataclass
class ReviewerDecisions:
    """The reviewer's rows for one request, as the engine takes them."""

    applied: list[Redaction] = field(default_factory=list)  # in force
    lifted: list[tuple[str, str, str]] = field(default_factory=list)  # (entity, record, code) withholdings
    lifted_spans: list[tuple[str, str, str, int, int]] = field(default_factory=list)  # (entity, record, field, start, end)
    waiting: int = 0  # awaiting a second reviewer


def reviewer_redactions(conn: sa.Connection, request_id: str) -> ReviewerDecisions:
    """The reviewer's exemptions in force, lifted withholdings and spans, exemptions awaiting a second reviewer."""
    out = ReviewerDecisions()
    rows = manual_rows(conn, request_id)
    withdrawn = {int(r["start"]) for r in rows if r["action"] == "withdraw"}
    for row in rows:
        if row["action"] == "withdraw" or row["id"] in withdrawn:
            continue
        if row["action"] == "lift":
            if row["field"] == WHOLE_RECORD:
                out.lifted.append((row["entity"], row["record_id"], row["code"]))
            else:
                out.lifted_spans.append((row["entity"], row["record_id"], row["field"], row["start"], row["end"]))
            continue
        if exemption(row["code"]).second_reviewer and row["confirmed_at"] is None:
            out.waiting += 1  # not in force until confirmed: approval is blocked meanwhile
            continue
        out.applied.append(Redaction(row["entity"], row["record_id"], row["field"], row["start"] or 0, row["end"] or 0,
                                     row["code"], f"reviewer:{row['id']}", "reviewer"))
    return out


def awaiting_confirmation(conn: sa.Connection, request_id: str | None = None) -> list[dict[str, Any]]:
    """Reviewer exemptions awaiting a second reviewer (every request's, or one's): ids, codes, who, when."""
    query = sa.select(manual_redactions).where(manual_redactions.c.action == "apply",
                                               manual_redactions.c.confirmed_at.is_(None))
    if request_id:
        query = query.where(manual_redactions.c.request_id == request_id)
    withdrawn = set(conn.execute(sa.select(manual_redactions.c.start).where(
        manual_redactions.c.action == "withdraw")).scalars())
    return [{"exemption_id": r["id"], "request_id": r["request_id"], "entity": r["entity"], "record_id": r["record_id"],
             "field": r["field"], "code": r["code"], "applied_by": r["applied_by"],
             "applied_at": r["applied_at"].isoformat()}
            for r in conn.execute(query.order_by(manual_redactions.c.id)).mappings() if r["id"] not in withdrawn]


def apply_exemption(conn: sa.Connection, request_id: str, *, entity: str, record_id: str, code: str, reason: str,
                    by: str, at: datetime, field: str = WHOLE_RECORD, start: int | None = None,
                    end: int | None = None) -> int:
    """A reviewer's exemption on a span of a field, or (field ``*``) on the whole record; returns its id."""
    spec = exemption(code)
    if not reason or not reason.strip() or not by or not by.strip():
        raise RequestError("a reviewer's exemption needs the reviewer's name and a reason")
    if field != WHOLE_RECORD and (start is None or end is None or not 0 <= start < end):
        raise RequestError("a span exemption needs 0 <= start < end")
    _require_open(conn, request_id)
    result = conn.execute(manual_redactions.insert().values(
        request_id=request_id, action="apply", entity=entity, record_id=record_id, field=field,
        start=None if field == WHOLE_RECORD else start, end=None if field == WHOLE_RECORD else end, code=spec.code,
        reason=reason.strip(), applied_by=by.strip(), applied_at=at,
        confirmed_at=None if spec.second_reviewer else at,
    ))
    _reopen(conn, request_id, at)
    return int(result.inserted_primary_key[0])


def lift_withholding(conn: sa.Connection, request_id: str, *, entity: str, record_id: str, code: str, reason: str,
                     by: str, at: datetime) -> int:
    """A reviewer decides an automatic withholding does not apply to this record."""
    exemption(code)
    if not reason or not reason.strip() or not by or not by.strip():
        raise RequestError("lifting a withholding needs the reviewer's name and a reason")
    _require_open(conn, request_id)
    result = conn.execute(manual_redactions.insert().values(
        request_id=request_id, action="lift", entity=entity, record_id=record_id, field=WHOLE_RECORD,
        code=code, reason=reason.strip(), applied_by=by.strip(), applied_at=at, confirmed_at=at))
    _reopen(conn, request_id, at)
    return int(result.inserted_primary_key[0])


def lift_span(conn: sa.Connection, request_id: str, *, entity: str, record_id: str, field: str, start: int, end: int,
              code: str, reason: str, by: str, at: datetime) -> int:
    """A reviewer decides an automatic span redaction does not apply (the text is shown)."""
    exemption(code)
    if not reason or not reason.strip() or not by or not by.strip():
        raise RequestError("lifting a redaction needs the reviewer's name and a reason")
    _require_open(conn, request_id)
    result = conn.execute(manual_redactions.insert().values(
        request_id=request_id, action="lift", entity=entity, record_id=record_id, field=field, start=start, end=end,
        code=code, reason=reason.strip(), applied_by=by.strip(), applied_at=at, confirmed_at=at))
    _reopen(conn, request_id, at)
    return int(result.inserted_primary_key[0])


def withdraw_exemption(conn: sa.Connection, request_id: str, exemption_id: int, *, reason: str, by: str,
                       at: datetime) -> int:
    """A reviewer withdraws one of the reviewer rows (an exemption or a lift); the row stays, as history."""
    row = conn.execute(sa.select(manual_redactions).where(manual_redactions.c.id == exemption_id,
                                                          manual_redactions.c.request_id == request_id)).mappings().first()
    if row is None or row["action"] == "withdraw":
        raise RequestError(f"request {request_id} has no reviewer exemption {exemption_id}")
    if not reason or not reason.strip() or not by or not by.strip():
        raise RequestError("withdrawing an exemption needs the reviewer's name and a reason")
    _require_open(conn, request_id)
    # ``start`` of a withdraw row names the row it withdraws (the table has no other integer to spare).
    result = conn.execute(manual_redactions.insert().values(
        request_id=request_id, action="withdraw", entity=row["entity"], record_id=row["record_id"], field=row["field"],
        start=exemption_id, end=None, code=row["code"], reason=reason.strip(), applied_by=by.strip(), applied_at=at,
        confirmed_at=at))
    _reopen(conn, request_id, at)
    return int(result.inserted_primary_key[0])


def decide_flagged(conn: sa.Connection, request_id: str, *, entity: str, record_id: str, withhold: bool, reason: str,
                   by: str, at: datetime) -> int:
    """A reviewer's decision on a note flagged as third-party information: withhold it, or release it redacted."""
    if withhold:
        return apply_exemption(conn, request_id, entity=entity, record_id=record_id, code=THIRD_PARTY, reason=reason,
                               by=by, at=at)
    return lift_withholding(conn, request_id, entity=entity, record_id=record_id, code=THIRD_PARTY, reason=reason,
                            by=by, at=at)


def confirm_exemption(conn: sa.Connection, exemption_id: int, *, by: str, at: datetime) -> dict[str, Any]:
    """The second reviewer's confirmation; it must be someone other than the first."""
    row = conn.execute(sa.select(manual_redactions).where(manual_redactions.c.id == exemption_id)).mappings().first()
    if row is None or row["action"] != "apply":
        raise RequestError(f"no reviewer exemption {exemption_id}")
    if not by or not by.strip():
        raise RequestError("the second reviewer must be named")
    if by.strip() == row["applied_by"]:
        raise RequestError(f"exemption {exemption_id} needs a second reviewer other than the one who applied it")
    if row["confirmed_at"] is not None:
        raise RequestError(f"exemption {exemption_id} is already confirmed")
    conn.execute(manual_redactions.update().where(manual_redactions.c.id == exemption_id).values(
        second_reviewer=by.strip(), confirmed_at=at))
    _reopen(conn, row["request_id"], at)
    return {"exemption_id": exemption_id, "request_id": row["request_id"], "code": row["code"], "confirmed": True}

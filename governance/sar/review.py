"""Review: the pack a reviewer sees, the reviewer's own exemptions, and the decision.

The review pack holds counts only (records found per kind, redactions per
exemption code and per rule, records withheld, reviewer exemptions awaiting a
second reviewer, flags about the requester) and a hash binding it to exactly
what will be disclosed: the records' text hashes and every redaction. An
approval names the pack hash it saw; if anything changed since (a new note, a
new exemption), the approval is refused and the pack must be looked at again.
The same pack is shown in Airflow's review form and by ``governance sar review``.

Serious-harm (Sch. 3 para 11) and child-abuse (Sch. 3 Part 5) exemptions are
applied only by a reviewer and count only once a second, different reviewer
has confirmed them; until then they block approval.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from governance.sar.exemptions import exemption
from governance.sar.redaction import WHOLE_RECORD, Redaction, summarise
from governance.sar.register import RequestError, get_request, set_status
from governance.sar.tables import PENDING_STATUSES, manual_redactions, reviews

__all__ = [
    "SEND_BACK_REASONS",
    "build_pack",
    "pack_markdown",
    "apply_exemption",
    "lift_withholding",
    "confirm_exemption",
    "reviewer_redactions",
    "decide",
    "latest_decision",
]

SEND_BACK_REASONS = ("more_redaction_needed", "over_redacted", "records_missing", "wrong_exemption", "other")


def _require_open(conn: sa.Connection, request_id: str) -> None:
    status = get_request(conn, request_id)["status"]
    if status not in PENDING_STATUSES:
        raise RequestError(f"request {request_id} is {status}: its exemptions can no longer change")


def _reopen(conn: sa.Connection, request_id: str, at: datetime) -> None:
    """A change to the exemptions withdraws an approval: the pack must be reviewed again."""
    if get_request(conn, request_id)["status"] == "approved":
        set_status(conn, request_id, "in_progress", at)


def _manual_rows(conn: sa.Connection, request_id: str) -> list[dict[str, Any]]:
    query = sa.select(manual_redactions).where(manual_redactions.c.request_id == request_id).order_by(manual_redactions.c.id)
    return [dict(r) for r in conn.execute(query).mappings()]


def reviewer_redactions(conn: sa.Connection, request_id: str) -> tuple[list[Redaction], list[tuple[str, str, str]], int]:
    """(redactions in force, lifted withholdings, exemptions awaiting a second reviewer)."""
    applied: list[Redaction] = []
    lifted: list[tuple[str, str, str]] = []
    waiting = 0
    for row in _manual_rows(conn, request_id):
        if row["action"] == "lift":
            lifted.append((row["entity"], row["record_id"], row["code"]))
            continue
        if exemption(row["code"]).second_reviewer and row["confirmed_at"] is None:
            waiting += 1  # not in force until confirmed: approval is blocked meanwhile
            continue
        applied.append(Redaction(row["entity"], row["record_id"], row["field"], row["start"] or 0, row["end"] or 0,
                                 row["code"], f"reviewer:{row['id']}", "reviewer"))
    return applied, lifted, waiting


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


def confirm_exemption(conn: sa.Connection, exemption_id: int, *, by: str, at: datetime) -> dict[str, Any]:
    """The second reviewer's confirmation; it must be someone other than the first."""
    row = conn.execute(sa.select(manual_redactions).where(manual_redactions.c.id == exemption_id)).mappings().first()
    if row is None:
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


def _hash(records: Iterable[tuple[str, str, str]], result: dict, manual: list[dict[str, Any]]) -> str:
    body = {
        "records": sorted(records),
        "redactions": sorted([r.entity, r.record_id, r.field, r.start, r.end, r.code, r.rule]
                             for items in result.values() for r in items),
        "manual": [[m["id"], m["action"], m["code"], m["confirmed_at"] is not None] for m in manual],
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


def build_pack(conn: sa.Connection, request_id: str, *, records: list[tuple[str, str, str]],
               counts: dict[str, int], result: dict, flags: dict[str, int]) -> dict[str, Any]:
    """The review pack: counts and a hash, nothing else. ``records``: (entity, id, text hash)."""
    request = get_request(conn, request_id)
    manual = _manual_rows(conn, request_id)
    _, lifted, waiting = reviewer_redactions(conn, request_id)
    summary = summarise(result)
    blocking = []
    if waiting:
        blocking.append("reviewer exemptions awaiting a second reviewer")
    if request["status"] == "awaiting_identity":
        blocking.append("identity or authority not yet confirmed")
    return {
        "request_id": request_id,
        "status": request["status"],
        "deadline": request["deadline"].isoformat() if request["deadline"] else None,
        "records": counts,
        "redactions_by_code": summary["by_code"],
        "redactions_by_rule": summary["by_rule"],
        "records_withheld_in_full": summary["records"]["withheld_in_full"],
        "records_with_redactions": summary["records"]["with_redactions"],
        "reviewer_exemptions": sum(1 for m in manual if m["action"] == "apply"),
        "awaiting_second_reviewer": waiting,
        "withholdings_lifted": len(lifted),
        "flags": flags,
        "blocking": blocking,
        "pack_hash": _hash(records, result, manual),
    }


def pack_markdown(pack: dict[str, Any]) -> str:
    """The pack as a reviewer reads it (Airflow form body, CLI): counts per exemption code."""
    lines = [f"**Access request {pack['request_id']}**, deadline {pack['deadline'] or 'clock stopped'}", "",
             "| records found | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in pack["records"].items() if v]
    lines += ["", "| exemption code | redactions | meaning |", "|---|---|---|"]
    lines += [f"| {code} | {n} | {exemption(code).reference} |" for code, n in pack["redactions_by_code"].items()]
    lines += ["", f"Withheld in full: {pack['records_withheld_in_full']}; with redactions: "
              f"{pack['records_with_redactions']}; reviewer exemptions: {pack['reviewer_exemptions']} "
              f"({pack['awaiting_second_reviewer']} awaiting a second reviewer); lifted: {pack['withholdings_lifted']}."]
    flagged = [k for k, v in pack["flags"].items() if v]
    if flagged:
        lines.append("Flags: " + ", ".join(f"{k}={pack['flags'][k]}" for k in flagged))
    if pack["blocking"]:
        lines.append("**Cannot be approved yet:** " + "; ".join(pack["blocking"]))
    lines.append(f"Pack hash `{pack['pack_hash'][:16]}`")
    return "\n".join(lines)


def decide(conn: sa.Connection, request_id: str, *, pack: dict[str, Any], seen_hash: str, decision: str,
           reviewer: str, channel: str, at: datetime, reason_code: str | None = None) -> dict[str, Any]:
    """Record an approval or a send-back of ``pack`` (the current one) by ``reviewer``."""
    if not reviewer or not reviewer.strip():
        raise RequestError("a review decision must name the reviewer")
    if decision == "approved":
        if seen_hash != pack["pack_hash"]:
            raise RequestError(f"request {request_id}: the review pack changed since it was reviewed; review it again")
        if pack["blocking"]:
            raise RequestError(f"request {request_id} cannot be approved: {'; '.join(pack['blocking'])}")
        status = "approved"
    elif decision == "sent_back":
        if reason_code not in SEND_BACK_REASONS:
            raise RequestError(f"send-back reason must be one of {', '.join(SEND_BACK_REASONS)}")
        current = get_request(conn, request_id)["status"]
        status = current if current.startswith("awaiting_") else "in_progress"  # a stopped clock stays stopped
    else:
        raise RequestError(f"decision {decision!r} is neither approved nor sent_back")
    conn.execute(reviews.insert().values(request_id=request_id, pack_hash=seen_hash, decision=decision,
                                         reviewer=reviewer.strip(), channel=channel, reason_code=reason_code,
                                         decided_at=at))
    if status != get_request(conn, request_id)["status"]:
        set_status(conn, request_id, status, at)
    return {"request_id": request_id, "decision": decision, "pack_hash": seen_hash, "status": status}


def latest_decision(conn: sa.Connection, request_id: str) -> dict[str, Any] | None:
    query = (sa.select(reviews).where(reviews.c.request_id == request_id)
             .order_by(reviews.c.decided_at.desc(), reviews.c.id.desc()).limit(1))
    row = conn.execute(query).mappings().first()
    return dict(row) if row else None

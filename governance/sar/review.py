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
has confirmed them; until then they block approval. Casenotes flagged as
third-party information are proposed for withholding and block approval until
a reviewer decides each (withhold or release), or approves with
``withhold_undecided``, which records the proposed withholding as decided.

The disclosure rule lives here and nowhere else: a request's content may be
bundled and delivered only while :func:`approved_pack_hash` names the pack
being bundled (:func:`require_approval`, :func:`bundle_is_approved`).

The text a reviewer reads (each record with its redactions highlighted and
labelled) is :mod:`governance.sar.preview`; this module holds no text.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from governance.sar.exemptions import exemption
from governance.sar.exemptions import THIRD_PARTY
from governance.sar.redaction import WHOLE_RECORD, Redaction, summarise
from governance.sar.redaction.record_rules import needs_decision
from governance.sar.register import RequestError, get_request, set_status
from governance.sar.tables import PENDING_STATUSES, manual_redactions, reviews

__all__ = [
    "SEND_BACK_REASONS",
    "build_pack",
    "pack_markdown",
    "apply_exemption",
    "lift_withholding",
    "confirm_exemption",
    "lift_span",
    "decide_flagged",
    "withdraw_exemption",
    "ReviewerDecisions",
    "reviewer_redactions",
    "undecided_flags",
    "awaiting_confirmation",
    "decide",
    "latest_decision",
    "approved_pack_hash",
    "require_approval",
    "bundle_is_approved",
    "decision_count",
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
    rows = _manual_rows(conn, request_id)
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


def undecided_flags(result: dict[tuple[str, str], list[Redaction]]) -> list[tuple[str, str]]:
    """Records proposed for withholding by a needs-decision rule that nothing else withholds.

    A note withheld on other grounds too (police intelligence, a reviewer's
    decision) needs no decision while those stand; lift them and it does.
    """
    return sorted(key for key, items in result.items()
                  if any(needs_decision(r) for r in items)
                  and all(needs_decision(r) for r in items if r.withholds))


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
    """The review pack: counts, record ids and codes, and a hash; never text. ``records``: (entity, id, text hash)."""
    from governance.sar.withholding import SILENT_CODES

    request = get_request(conn, request_id)
    manual = _manual_rows(conn, request_id)
    decisions = reviewer_redactions(conn, request_id)
    awaiting = awaiting_confirmation(conn, request_id)
    undecided = undecided_flags(result)
    summary = summarise(result)
    withheld = [{"entity": e, "record_id": rid, "codes": sorted({r.code for r in items if r.withholds}),
                 "rules": sorted({r.rule for r in items if r.withholds}),
                 "silent": any(r.code in SILENT_CODES for r in items if r.withholds)}
                for (e, rid), items in sorted(result.items()) if any(r.withholds for r in items)]
    blocking = []
    if decisions.waiting:
        blocking.append("reviewer exemptions awaiting a second reviewer")
    if undecided:
        blocking.append(f"{len(undecided)} note(s) flagged as third-party information need a decision")
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
        "withheld": withheld,
        "needs_decision": [{"entity": e, "record_id": rid, "proposed": THIRD_PARTY} for e, rid in undecided],
        "reviewer_exemptions": sum(1 for m in manual if m["action"] == "apply"),
        "awaiting_second_reviewer": decisions.waiting,
        "awaiting": awaiting,
        "withholdings_lifted": len(decisions.lifted),
        "redactions_lifted": len(decisions.lifted_spans),
        "flags": flags,
        "blocking": blocking,
        "pack_hash": _hash(records, result, manual),
    }


def pack_markdown(pack: dict[str, Any], *, preview_hint: str | None = None) -> str:
    """The pack as a reviewer reads it (Airflow form body, CLI): counts, ids and codes, no record text."""
    lines = [f"**Access request {pack['request_id']}**, deadline {pack['deadline'] or 'clock stopped'}", "",
             "| records found | count |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in pack["records"].items() if v]
    lines += ["", "| exemption code | redactions | meaning |", "|---|---|---|"]
    lines += [f"| {code} | {n} | {exemption(code).reference} |" for code, n in pack["redactions_by_code"].items()]
    lines += ["", f"Withheld in full: {pack['records_withheld_in_full']}; with redactions: "
              f"{pack['records_with_redactions']}; reviewer exemptions: {pack['reviewer_exemptions']} "
              f"({pack['awaiting_second_reviewer']} awaiting a second reviewer); lifted: "
              f"{pack['withholdings_lifted']} withholding(s), {pack.get('redactions_lifted', 0)} redaction(s)."]
    if pack.get("withheld"):
        lines += ["", "**Proposed for withholding in full** (record, code, rule):", ""]
        lines += [f"- {w['entity']} {w['record_id']}: {', '.join(w['codes'])} ({', '.join(w['rules'])})"
                  + (" - not mentioned in the bundle at all" if w["silent"] else "") for w in pack["withheld"]]
    if pack.get("needs_decision"):
        lines += ["", "**Flagged as third-party information: needs a decision** (proposed: withhold, "
                  f"{exemption(THIRD_PARTY).reference}):", ""]
        lines += [f"- {d['entity']} {d['record_id']}" for d in pack["needs_decision"]]
    if pack.get("awaiting"):
        lines += ["", "**Awaiting a second reviewer:**", ""]
        lines += [f"- exemption {a['exemption_id']}: {a['code']} on {a['entity']} {a['record_id']} "
                  f"(applied by {a['applied_by']})" for a in pack["awaiting"]]
    flagged = [k for k, v in pack["flags"].items() if v]
    if flagged:
        lines.append("Flags: " + ", ".join(f"{k}={pack['flags'][k]}" for k in flagged))
    if pack["blocking"]:
        lines.append("**Cannot be approved yet:** " + "; ".join(pack["blocking"]))
    if preview_hint:
        lines += ["", preview_hint]
    lines.append(f"Pack hash `{pack['pack_hash']}`")
    return "\n".join(lines)


def decide(conn: sa.Connection, request_id: str, *, pack: dict[str, Any], seen_hash: str, decision: str,
           reviewer: str, channel: str, at: datetime, reason_code: str | None = None) -> dict[str, Any]:
    """Record an approval or a send-back of ``pack`` (the current one) by ``reviewer``."""
    if not reviewer or not reviewer.strip():
        raise RequestError("a review decision must name the reviewer")
    if decision == "approved":
        if not seen_hash:
            raise RequestError(f"request {request_id}: an approval must name the hash of the pack it approves")
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


def decision_count(conn: sa.Connection, request_id: str) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(reviews)
                            .where(reviews.c.request_id == request_id)).scalar_one())


def approved_pack_hash(conn: sa.Connection, request_id: str) -> str | None:
    """The hash of the pack approved for disclosure, or None: the one rule every disclosing step asks.

    A request's pack is approved when its status is ``approved`` and its latest
    review decision is an approval; any change to exemptions since moves the
    status back (:func:`_reopen`), any later send-back is a later decision.
    """
    if get_request(conn, request_id)["status"] != "approved":
        return None
    last = latest_decision(conn, request_id)
    return last["pack_hash"] if last and last["decision"] == "approved" else None


def require_approval(conn: sa.Connection, request_id: str, pack: dict[str, Any]) -> dict[str, Any]:
    """Raise unless ``pack`` (the current one) is the approved pack and nothing blocks it; returns the approval."""
    approved = approved_pack_hash(conn, request_id)
    if approved is None or approved != pack["pack_hash"]:
        raise RequestError(f"request {request_id} has no approval of its current review pack")
    if pack["blocking"]:
        raise RequestError(f"request {request_id} cannot be disclosed: {'; '.join(pack['blocking'])}")
    return latest_decision(conn, request_id) or {}


def bundle_is_approved(conn: sa.Connection, request_id: str, bundle_pack_hash: str | None) -> bool:
    """Whether a stored bundle, made from the pack ``bundle_pack_hash``, is the approved one."""
    approved = approved_pack_hash(conn, request_id)
    return approved is not None and approved == bundle_pack_hash

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
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa

from governance.sar.exemptions import THIRD_PARTY, exemption
from governance.sar.redaction import Redaction, summarise
from governance.sar.redaction.record_rules import needs_decision
from governance.sar.register import RequestError, get_request, set_status
from governance.sar.reviewer_exemptions import (  # noqa: F401 - the reviewer's actions, re-exported
    ReviewerDecisions,
    apply_exemption,
    awaiting_confirmation,
    confirm_exemption,
    decide_flagged,
    lift_span,
    lift_withholding,
    manual_rows,
    reviewer_redactions,
    withdraw_exemption,
)
from governance.sar.tables import reviews

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


def undecided_flags(result: dict[tuple[str, str], list[Redaction]]) -> list[tuple[str, str]]:
    """Records proposed for withholding by a needs-decision rule that nothing else withholds.

    A note withheld on other grounds too (police intelligence, a reviewer's
    decision) needs no decision while those stand; lift them and it does.
    """
    return sorted(key for key, items in result.items()
                  if any(needs_decision(r) for r in items)
                  and all(needs_decision(r) for r in items if r.withholds))


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
    manual = manual_rows(conn, request_id)
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


_LISTED = 200  # records listed by id in the form; all of them in `governance sar review --json` and the preview


def _more(items: list) -> list[str]:
    return [f"- ... and {len(items) - _LISTED} more (`governance sar review --json`)"] if len(items) > _LISTED else []


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
                  + (" - not mentioned in the bundle at all" if w["silent"] else "")
                  for w in pack["withheld"][:_LISTED]] + _more(pack["withheld"])
    if pack.get("needs_decision"):
        lines += ["", "**Flagged as third-party information: needs a decision** (proposed: withhold, "
                  f"{exemption(THIRD_PARTY).reference}):", ""]
        lines += [f"- {d['entity']} {d['record_id']}" for d in pack["needs_decision"][:_LISTED]]
        lines += _more(pack["needs_decision"])
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
    status back (see :mod:`.reviewer_exemptions`), any later send-back is a later decision.
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

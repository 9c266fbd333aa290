"""Jobs of the ``subject_access`` and ``subject_access_deadlines`` DAGs (and the ``governance sar`` CLI).

Each takes :class:`Settings` and identifiers, does one step of answering an
access request, and returns identifiers, counts, hashes and URIs: never a
name, a date of birth or a word of a record. Every step is safe to retry:
lodging the same request returns it; discovery and redaction replace their
own rows; a review decision, the bundle and the delivery are recorded once.

Each step is one :class:`~governance.unit.Unit` transaction. Its ledger entry
(:meth:`~governance.unit.Work.append_once_now`: the disclosure row keeps its
seq) commits with the state change when the state tables live in the ledger's
database (the default); otherwise it is written just before the state commits,
and a retry finds it by its key instead of writing it twice.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import date, datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.sar import delivery, process, register, review
from governance.state import state_engine
from governance.unit import Unit

__all__ = ["lodge_request", "discover_request", "redact_request", "prepare_review", "record_review", "build_bundle",
           "deliver_bundle", "close_request", "check_deadlines", "CONTROLLER", "RULE"]

log = logging.getLogger("governance.alerts")

CONTROLLER = "Children's Services (the data controller)"
#: The rule every ``sar.*`` ledger entry cites.
RULE = "UK GDPR Art. 15; DPA 2018 s.173"


def _now() -> datetime:
    return datetime.now(timezone.utc)  # audit timestamps only; decisions take as_of


def _workset(unit: Unit, conn: sa.Connection, request_id: str) -> process.Workset:
    request = register.get_request(conn, request_id)
    return process.build_workset(unit.settings, conn, request_id, store=unit.store(request["store"]),
                                 objects=unit.objects, ledger_engine=unit.ledger.engine)


def lodge_request(settings: Settings, *, store: str, subject_person_id: str, received_on: date, actor: str,
                  request_id: str | None = None, salt: str = "", identity_requested: bool = False,
                  authority_requested: bool = False, **requester: Any) -> dict[str, Any]:
    """Register a request (a hold on the subject's cases from now on).

    A receipt date after today is refused: a mistyped year (2062 for 2026) would set a deadline
    decades away, and the deadline watch would never flag the request as due or overdue. One
    day's grace covers a request logged just after midnight in the UK, before UTC's midnight.
    """
    from governance.stores.store import CaseStore

    today = _now().date()
    if received_on > today + timedelta(days=1):
        raise register.RequestError(f"received date {received_on.isoformat()} is after today ({today.isoformat()}): "
                                    "a request is lodged on or after the day it arrived")
    case_store = CaseStore.open(settings.store(store))
    try:
        born = process.dates_of_birth(case_store, [subject_person_id, requester.get("requester_person_id")])
    finally:
        case_store.engine.dispose()
    rid = request_id or register.new_request_id(store, subject_person_id, received_on, salt)
    at = _now()
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        row, created = register.lodge(conn, request_id=rid, store=store, subject_person_id=subject_person_id,
                                      received_on=received_on, at=at, subject_dob=born[subject_person_id],
                                      identity_requested=identity_requested, authority_requested=authority_requested,
                                      **requester)
        seq = work.append_once_now(
            key=f"lodged:{rid}", actor=actor, action="sar.lodged",
            reason="subject access request received: the subject's cases are held until it is answered",
            rule=RULE, store=store, record_ids=[rid, subject_person_id],
            details={"requester_kind": row["requester_kind"], "received_on": received_on.isoformat(),
                     "status": row["status"]})
    return {"request_id": rid, "created": created, "status": row["status"], "store": store,
            "deadline": row["deadline"].isoformat() if row["deadline"] else None, "ledger_seq": seq}


def discover_request(settings: Settings, request_id: str) -> dict[str, Any]:
    """Search every place the subject's data may be; record what was found and where it was looked for."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _workset(unit, conn, request_id)
        process.save_discovery(conn, request_id, ws, _now())
        if ws.request["status"] == "received":
            register.set_status(conn, request_id, "in_progress", _now())
        status = register.get_request(conn, request_id)["status"]
    return {"request_id": request_id, "status": status, "records": ws.discovery.counts(),
            "places_searched": len(ws.discovery.searches)}


def redact_request(settings: Settings, request_id: str) -> dict[str, Any]:
    """Apply the redaction rules; record each redaction's span, code and rule."""
    from governance.sar.redaction import summarise

    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _workset(unit, conn, request_id)
        process.check_discovery(conn, request_id, ws)
        process.save_redactions(conn, request_id, ws)
    summary = summarise(ws.redactions)
    return {"request_id": request_id, "redactions_by_code": summary["by_code"], **summary["records"]}


def prepare_review(settings: Settings, request_id: str, *, labels: bool = False) -> dict[str, Any]:
    """The review pack (counts, ids, codes and a hash); ``approved`` if already approved as it stands.

    ``labels``: add ``labels_markdown``, every redaction by record, label, code and rule (no text).
    """
    from governance.sar.preview import build_preview, labels_markdown

    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _workset(unit, conn, request_id)
        process.check_discovery(conn, request_id, ws)
        pack = process.current_pack(conn, request_id, ws)
        if labels:
            pack["labels_markdown"] = labels_markdown(build_preview(ws, pack))
        approved = review.approved_pack_hash(conn, request_id) == pack["pack_hash"] and not pack["blocking"]
        last = review.latest_decision(conn, request_id) if approved else None
        if not approved and pack["status"] in ("received", "in_progress", "approved"):
            register.set_status(conn, request_id, "in_review", _now())
            pack["status"] = "in_review"
    pack["approved"] = approved
    pack["approved_by_channel"] = last["channel"] if last else None
    return pack


def record_review(settings: Settings, request_id: str, *, decision: str, reviewer: str, seen_hash: str | None,
                  channel: str, actor: str, reason_code: str | None = None, stale: str = "raise",
                  withhold_undecided: bool = False) -> dict[str, Any]:
    """Record a reviewer's decision on the pack the reviewer saw (``seen_hash``: required to approve).

    An approval of a pack that has since changed raises, or with
    ``stale="send_back"`` (Airflow) is recorded as sent back for another look.
    ``withhold_undecided``: the approval accepts the proposed withholding of
    every flagged note not yet decided (as the pack showed them), recorded as
    the reviewer's decision before the approval.
    """
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _workset(unit, conn, request_id)
        process.check_discovery(conn, request_id, ws)
        pack = process.current_pack(conn, request_id, ws)
        if decision == "approved" and review.approved_pack_hash(conn, request_id) == pack["pack_hash"]:
            # Approved again (a records manager unsure it worked, a retried task): the approval of this very
            # pack stands and nothing is written; before, the hash changed by --withhold-undecided made it "stale".
            return {"request_id": request_id, "decision": "approved", "pack_hash": pack["pack_hash"],
                    "status": "approved", "already_approved": True, "approved": True}
        seen = seen_hash if decision == "approved" else (seen_hash or pack["pack_hash"])
        shown = pack["pack_hash"]
        if decision == "approved" and withhold_undecided and seen == pack["pack_hash"] and pack["needs_decision"]:
            at = _now()
            for flagged in pack["needs_decision"]:
                review.decide_flagged(conn, request_id, entity=flagged["entity"], record_id=flagged["record_id"],
                                      withhold=True, reason="proposed withholding accepted at approval",
                                      by=reviewer, at=at)
            ws = process.redact_again(conn, ws)
            pack = process.current_pack(conn, request_id, ws)
            seen = pack["pack_hash"]  # the same content as shown, with the decisions recorded
        if decision == "approved" and stale == "send_back" and (seen != pack["pack_hash"] or pack["blocking"]):
            decision, reason_code = "sent_back", "other"
        if pack["status"] == "approved" and decision == "approved":
            register.set_status(conn, request_id, "in_review", _now())
        result = review.decide(conn, request_id, pack=pack, seen_hash=seen, decision=decision, reviewer=reviewer,
                               channel=channel, at=_now(), reason_code=reason_code)
        result["ledger_seq"] = work.append_once_now(
            key=f"review:{request_id}:{review.decision_count(conn, request_id)}", actor=actor, action="sar.reviewed",
            reason=f"review pack {decision.replace('_', ' ')}", rule=RULE, store=ws.request["store"],
            record_ids=[request_id], counts={f"code.{k}": v for k, v in pack["redactions_by_code"].items()},
            details={"decision": decision, "reviewer": reviewer, "channel": channel, "pack_hash": seen or "",
                     "shown_hash": shown, "reason_code": reason_code})
    result["approved"] = decision == "approved"
    return result


def build_bundle(settings: Settings, request_id: str, *, as_of: date) -> dict[str, Any]:
    """Render, package, encrypt and store the bundle of the approved pack, and only of it."""
    from governance.sar.article15 import article15_information
    from governance.sar.export import assemble
    from governance.sar.redaction import summarise
    from governance.sar.withholding import released_view

    with Unit.open(settings) as unit:
        with unit.transaction() as work:
            conn = work.conn
            done = register.disclosure_of(conn, request_id)
            if done is not None:  # run again after delivery: the disclosed bundle stands, nothing is rebuilt
                return {"request_id": request_id, "already_delivered": True, "package_key": done["package_key"]}
            ws = _workset(unit, conn, request_id)
            process.check_discovery(conn, request_id, ws)  # the store as discovered, or refuse
            pack = process.current_pack(conn, request_id, ws)
            review.require_approval(conn, request_id, pack)  # the pack as approved, or refuse
            schedule = os.environ.get("GOVERNANCE_RETENTION_SCHEDULE") or None
            _, counted = released_view(ws.discovery, ws.redactions)  # withheld records count nowhere in the letter
            a15 = article15_information(counted, controller=settings.extra.get("controller", CONTROLLER),
                                        schedule_path=schedule)
            document = assemble(request=ws.request, deadline=ws.request["deadline"], discovery=ws.discovery,
                                redactions=ws.redactions, article15=a15, as_of=as_of, pack_hash=pack["pack_hash"])
        summary = summarise(ws.redactions)
        counts = {"records": sum(ws.discovery.counts().values()),
                  "withheld_in_full": summary["records"]["withheld_in_full"],
                  "redactions": sum(summary["by_code"].values()),
                  **{f"code.{k}": v for k, v in summary["by_code"].items()}}
        key = delivery.new_bundle_key(unit.keys, request_id)
        package = delivery.make_package(document, key, counts, pack["pack_hash"])
        stored = delivery.store_package(unit.objects, package)
    return {"request_id": request_id, **stored, "key_id": package.key_id, "files": package.files, "counts": counts,
            "pack_hash": pack["pack_hash"]}


def deliver_bundle(settings: Settings, request_id: str, *, as_of: date, actor: str,
                   link_seconds: int = delivery.DEFAULT_LINK_SECONDS) -> dict[str, Any]:
    """Hand over a stored bundle: link and key files, disclosure record, ledger entry; the hold is released."""
    prefix = f"sar/{request_id}/"
    with Unit.open(settings) as unit:
        objects = unit.objects
        with unit.transaction() as work:
            conn = work.conn
            request = register.get_request(conn, request_id)
            done = register.disclosure_of(conn, request_id)
            if done is not None:
                return {"request_id": request_id, "already_delivered": True, "package_key": done["package_key"],
                        "ledger_seq": done["ledger_seq"], "status": request["status"]}
            if request["status"] != "approved":
                raise register.RequestError(
                    f"request {request_id} is {request['status']}: only an approved request is delivered")
            if not objects.exists(prefix + "bundle.enc") or not objects.exists(prefix + "manifest.json"):
                raise register.RequestError(f"request {request_id}: no stored bundle; build it first")
            manifest = json.loads(objects.get(prefix + "manifest.json"))
            if not review.bundle_is_approved(conn, request_id, manifest.get("review", {}).get("pack_hash")):
                raise register.RequestError(
                    f"request {request_id}: the stored bundle is not the approved one; build it again")
            package = manifest["package"]
            at = _now()
            url, expires = delivery.link_for(objects, prefix + "bundle.enc", at, link_seconds)
            key = delivery.handed_over_key(unit.keys, request_id, manifest)  # a mismatch fails the run
            handover = {"handover_uri": f"{objects.uri}/" + delivery.store_link(
                objects, request_id, url=url, expires_at=expires, package_key_id=package["key_id"])}
            if settings.embedded:  # one machine: the files can be written here; a deployment uses `sar handover`
                handover.update(delivery.write_handover(settings.home, request_id, key=key, url=url, expires_at=expires))
            counts = {k: int(v) for k, v in manifest.get("counts", {}).items()}
            case_ids = process.recorded_case_ids(conn, request_id)
            seq = work.append_once_now(
                key=f"disclosed:{request_id}", actor=actor, action="sar.disclosed",
                reason="subject access request answered: bundle disclosed to the requester",
                rule=RULE, store=request["store"], record_ids=[request_id, request["subject_person_id"], *case_ids],
                counts=counts, details={"package_key": prefix + "bundle.enc", "package_sha256": package["sha256"],
                                        "manifest_sha256": package["manifest_sha256"], "key_id": package["key_id"],
                                        "recipient_kind": request["requester_kind"] or "subject"})
            register.record_disclosure(conn, delivery.disclosure_row(
                request, manifest, prefix=prefix, expires=expires, ledger_seq=seq, disclosed_on=as_of, at=at), at)
        unit.ledger.checkpoint()
    return {"request_id": request_id, "already_delivered": False, "status": "delivered", "ledger_seq": seq,
            "package_uri": f"{objects.uri}/{prefix}bundle.enc", "url_expires_at": expires.isoformat() if expires else None,
            **handover}


def close_request(settings: Settings, request_id: str, *, status: str, actor: str) -> dict[str, Any]:
    """Close without a bundle (``closed`` or ``withdrawn``); the hold is released."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        request = register.get_request(conn, request_id)
        register.close(conn, request_id, status, _now())
        seq = work.append_once_now(
            key=f"closed:{request_id}", actor=actor, action="sar.closed",
            reason=f"subject access request {status}: hold released", rule=RULE,
            store=request["store"], record_ids=[request_id, request["subject_person_id"]], details={"status": status})
    return {"request_id": request_id, "status": status, "ledger_seq": seq}


def check_deadlines(settings: Settings, *, as_of: date, within_days: int = 7, alert: bool = False) -> dict[str, Any]:
    """Pending requests due within ``within_days`` of ``as_of``, and overdue ones (ids and counts).

    With ``alert``, one line on the ``governance.alerts`` logger when any is due
    soon or overdue: counts only.
    """
    with state_engine(settings).connect() as conn:
        result = register.due_soon(conn, as_of, within_days)
    if alert and (result["due_soon"] or result["overdue"]):
        log.warning("GOVERNANCE SAR DEADLINES as_of=%s within_days=%d due_soon=%d overdue=%d pending=%d",
                    result["as_of"], within_days, result["due_soon"], result["overdue"], result["pending"])
    result["alerted"] = bool(alert and (result["due_soon"] or result["overdue"]))
    return result

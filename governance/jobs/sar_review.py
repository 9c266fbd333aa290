"""The reviewer's jobs (``governance sar preview / redact / lift / decide / awaiting``).

Each builds the request's working set, checks it against discovery, acts on
what the reviewer names (a record and quoted text, a redaction's label, a
flagged note) and returns ids, labels, codes and the new pack hash. Only
:func:`preview_request` returns record text: it is the reviewer's view, for
the terminal or a console page, never for Airflow.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from governance.config import Settings
from governance.sar import process, review
from governance.sar.preview import build_preview, find_label, locate
from governance.sar.register import RequestError
from governance.state import state_engine
from governance.unit import Unit

__all__ = ["preview_request", "redact_quote", "lift_label", "decide_flag", "awaiting_second_reviewer"]


def _now() -> datetime:
    return datetime.now(timezone.utc)  # audit timestamps only


def _checked(unit: Unit, conn: Any, request_id: str) -> process.Workset:
    from governance.jobs.sar import _workset

    ws = _workset(unit, conn, request_id)
    process.check_discovery(conn, request_id, ws)
    return ws


def _record(ws: process.Workset, record_id: str, entity: str | None) -> Any:
    found = [r for r in ws.discovery.records if r.record_id == record_id and entity in (None, r.entity)]
    if not found:
        raise RequestError(f"request {ws.request['request_id']} has no record {record_id}")
    if len(found) > 1:
        raise RequestError(f"record id {record_id} names {len(found)} records: give --entity")
    return found[0]


def preview_request(settings: Settings, request_id: str) -> dict[str, Any]:
    """Every record as it will go out, redactions highlighted and labelled, and the pack it belongs to."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _checked(unit, conn, request_id)
        return build_preview(ws, process.current_pack(conn, request_id, ws))


def _pack_hash(conn: Any, request_id: str, ws: process.Workset) -> str:
    """The pack hash after a change (redaction redone on the records already read and checked)."""
    return process.current_pack(conn, request_id, process.redact_again(conn, ws))["pack_hash"]


def redact_quote(settings: Settings, request_id: str, *, record_id: str, quote: str, code: str, reason: str, by: str,
                 entity: str | None = None, field: str | None = None, occurrence: int | None = None) -> dict[str, Any]:
    """A reviewer's redaction of quoted text in one record (``--redact "text" --record ID --code C``)."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _checked(unit, conn, request_id)
        record = _record(ws, record_id, entity)
        where, start, end = locate(record.fields, quote, field=field, occurrence=occurrence)
        exemption_id = review.apply_exemption(conn, request_id, entity=record.entity, record_id=record.record_id,
                                              code=code, reason=reason, by=by, at=_now(), field=where, start=start,
                                              end=end)
        pack_hash = _pack_hash(conn, request_id, ws)
    return {"request_id": request_id, "label": f"M{exemption_id}", "exemption_id": exemption_id,
            "record_id": record.record_id, "field": where, "code": code, "pack_hash": pack_hash}


def lift_label(settings: Settings, request_id: str, *, label: str, reason: str, by: str) -> dict[str, Any]:
    """Lift the redaction a label names: an automatic span or withholding, or a reviewer's own (withdrawn)."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _checked(unit, conn, request_id)
        at = _now()
        if label.startswith("M") and label[1:].isdigit():
            row_id = review.withdraw_exemption(conn, request_id, int(label[1:]), reason=reason, by=by, at=at)
        else:
            entry = find_label(build_preview(ws, process.current_pack(conn, request_id, ws)), label)
            if entry["rule"] == "third_party_information_flag":
                raise RequestError(f"{label} is a flagged note's proposed withholding: decide it with "
                                   "`governance sar decide --release` or `--withhold`")
            if entry["field"] == "*":
                row_id = review.lift_withholding(conn, request_id, entity=entry["entity"], record_id=entry["record_id"],
                                                 code=entry["code"], reason=reason, by=by, at=at)
            else:
                row_id = review.lift_span(conn, request_id, entity=entry["entity"], record_id=entry["record_id"],
                                          field=entry["field"], start=entry["start"], end=entry["end"],
                                          code=entry["code"], reason=reason, by=by, at=at)
        pack_hash = _pack_hash(conn, request_id, ws)
    return {"request_id": request_id, "lifted": label, "decision_id": row_id, "pack_hash": pack_hash}


def decide_flag(settings: Settings, request_id: str, *, record_id: str, withhold: bool, reason: str,
                by: str) -> dict[str, Any]:
    """The reviewer's decision on a note flagged as third-party information."""
    with Unit.open(settings) as unit, unit.transaction() as work:
        conn = work.conn
        ws = _checked(unit, conn, request_id)
        pending = {d["record_id"]: d for d in process.current_pack(conn, request_id, ws)["needs_decision"]}
        if record_id not in pending:
            raise RequestError(f"request {request_id}: record {record_id} is not a flagged note awaiting a decision")
        row_id = review.decide_flagged(conn, request_id, entity=pending[record_id]["entity"], record_id=record_id,
                                       withhold=withhold, reason=reason, by=by, at=_now())
        pack_hash = _pack_hash(conn, request_id, ws)
    return {"request_id": request_id, "record_id": record_id, "decision": "withhold" if withhold else "release",
            "decision_id": row_id, "pack_hash": pack_hash}


def awaiting_second_reviewer(settings: Settings, request_id: str | None = None) -> dict[str, Any]:
    """Reviewer exemptions awaiting a second reviewer (serious harm, child abuse): every request's, or one's."""
    with state_engine(settings).connect() as conn:
        rows = review.awaiting_confirmation(conn, request_id)
    return {"awaiting": rows, "count": len(rows)}

"""The bundle's content: records in order, with redactions as segments, as one JSON-able document.

Both the PDF and the JSON export are made from this document, so they say the
same thing. A redacted span becomes a segment carrying only its exemption code
(the box in the PDF, ``[REDACTED CODE]`` in the flat text); a withheld record
keeps its place, date and kind, and says which code withholds it, and nothing
else of itself (no details, no title, no text); a record withheld under a
silent code is not there at all (see :mod:`governance.sar.withholding`). A
box is as wide as its label, never as the text it hides, so lengths do not leak.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from governance.sar.discovery import Discovery, Record
from governance.sar.exemptions import exemption
from governance.sar.redaction import Redaction
from governance.sar.withholding import released_view, withheld_codes

__all__ = ["FORMAT", "SECTIONS", "assemble", "segments", "flatten"]

FORMAT = "governance-sar-bundle/1"
# (section title, entities) in bundle order.
SECTIONS = (
    ("Your details", ("person",)),
    ("Your cases", ("case",)),
    ("Case records: notes and documents", ("casenote", "document")),
    ("Consent forms", ("consent",)),
    ("Information shared with other agencies (and decisions not to share)", ("sharing_record",)),
    ("Who opened your file", ("access_log",)),
    ("Research studies your data went into", ("research_study",)),
    ("Records the platform keeps about actions on your records", ("ledger_entry",)),
)
_DETAILS = {
    "person": ("given_name", "family_name", "aliases", "date_of_birth", "address", "postcode", "phone", "email"),
    "case": ("case_type", "status", "opened_on", "closed_on", "closure_reason", "reopened_on", "re_referral_of"),
    "casenote": ("written_on",),
    "document": ("created_on", "author_organisation", "third_party"),
    "consent": ("given_on", "consent_to_approach", "consent_to_share", "withdrawn_on", "opted_out_agencies"),
    "sharing_record": ("shared_on", "recipient_agency", "purpose", "decision", "lawful_basis", "consent_status",
                       "override_reason", "decision_maker", "family_informed", "not_informed_reason",
                       "restriction_on_disclosure"),
    "access_log": ("accessed_at", "accessed_by", "is_staff", "reason"),
    "research_study": ("study_id",),
    "ledger_entry": ("recorded_at", "action", "rule"),
}
_ROLE_LABEL = {"subject_child": "a child on the case", "parent_carer": "a parent or carer",
               "family_member": "a family member", "member_of_public": "another person"}


def segments(text: str, spans: list[Redaction]) -> list[dict[str, str]]:
    """``text`` cut into plain pieces ``{"t": ...}`` and redactions ``{"code": ...}``."""
    out: list[dict[str, str]] = []
    at = 0
    for r in sorted(spans, key=lambda r: r.start):
        if r.start > at:
            out.append({"t": text[at:r.start]})
        out.append({"code": r.code})
        at = max(at, r.end)
    if at < len(text):
        out.append({"t": text[at:]})
    return out


def flatten(parts: list[dict[str, str]]) -> str:
    return "".join(p["t"] if "t" in p else f"[REDACTED {p['code']}]" for p in parts)


def _record(record: Record, redactions: list[Redaction], names: dict[str, str], subject_id: str) -> dict[str, Any]:
    withheld = withheld_codes(redactions)
    if withheld:  # nothing of the record but its place: kind, date, the code
        return {"entity": record.entity, "id": record.record_id, "case_id": record.case_id, "date": record.on,
                "details": {}, "withheld": withheld, "fields": {}}
    details = {k: record.meta.get(k) for k in _DETAILS.get(record.entity, ()) if record.meta.get(k) not in (None, "", [])}
    if record.entity == "casenote" and record.meta.get("author_id"):
        details["author"] = names.get(record.meta["author_id"], record.meta["author_id"])
    if record.entity == "consent" and record.meta.get("given_by"):
        signer = record.meta["given_by"]
        details["signed_by"] = "you" if signer == subject_id else names.get(signer, "another person")
    if record.entity == "document" and record.meta.get("content") in ("binary", "missing"):
        details["content"] = ("not text: provided separately after review" if record.meta["content"] == "binary"
                              else "the file could not be found in storage")
    out: dict[str, Any] = {"entity": record.entity, "id": record.record_id, "case_id": record.case_id,
                           "date": record.on, "details": details, "withheld": None, "fields": {}}
    for name, text in record.fields.items():
        parts = segments(text, [r for r in redactions if r.field == name])
        out["fields"][name] = {"segments": parts, "text": flatten(parts)}
    return out


def _ordered(discovery: Discovery, entities: tuple[str, ...]) -> list[Record]:
    chosen = [r for r in discovery.records if r.entity in entities]
    if entities == ("casenote", "document"):
        case_order = {cid: n for n, cid in enumerate(discovery.case_ids)}
        return sorted(chosen, key=lambda r: (case_order.get(r.case_id, 1 << 30), r.on or "", r.entity, r.record_id))
    if entities == ("case",):
        return chosen  # already in opening order
    return sorted(chosen, key=lambda r: (r.on or "", r.record_id))


def assemble(*, request: dict[str, Any], deadline: date | None, discovery: Discovery,
             redactions: dict[tuple[str, str], list[Redaction]], article15: dict[str, Any],
             as_of: date, pack_hash: str | None = None) -> dict[str, Any]:
    """The whole bundle as one JSON-able document; silently withheld records are left out."""
    discovery, _ = released_view(discovery, redactions)
    names = {p["id"]: f"{p.get('given_name') or ''} {p.get('family_name') or ''}".strip() for p in discovery.professionals}
    names.update({p["id"]: _ROLE_LABEL.get(p.get("role"), "another person") for p in discovery.people})
    subject_id = request["subject_person_id"]
    sections = []
    used: set[str] = set()
    for title, entities in SECTIONS:
        items = [_record(r, redactions.get(r.key, []), names, subject_id) for r in _ordered(discovery, entities)]
        sections.append({"title": title, "entities": list(entities), "records": items})
        for item in items:  # the legend explains the codes the requester sees, and no other
            used.update(item["withheld"] or ())
            used.update(p["code"] for f in item["fields"].values() for p in f["segments"] if "code" in p)
    return {
        "format": FORMAT,
        "request": {"request_id": request["request_id"], "store": request["store"], "subject_person_id": subject_id,
                    "received_on": request["received_on"].isoformat(),
                    "deadline": deadline.isoformat() if deadline else None, "prepared_on": as_of.isoformat(),
                    "requester_kind": request.get("requester_kind") or "subject",
                    "review_pack": pack_hash},  # the approved review pack this bundle renders
        "article15": article15,
        "sections": sections,
        "exemptions": {code: {"reference": exemption(code).reference, "meaning": exemption(code).description}
                       for code in sorted(used)},
        # Where we looked, without how many rows each place gave: a count could disclose a
        # silently withheld record. The counts stay in the controller's search log (sar_searches).
        "search": [{"source": e.source, "target": e.target, "criterion": e.criterion, "note": e.note}
                   for e in discovery.searches],
    }

"""What the reviewer reads: every record as it will go out, each redaction highlighted and labelled.

The review pack (:mod:`governance.sar.review`) holds counts, ids and codes;
this is its readable side, with the records' text, for the reviewer only (the
CLI's ``governance sar preview`` and, later, a console page through
:func:`preview_html`). It never goes to XCom, logs or the ledger.

Each redaction carries a label the reviewer can act on: ``R-xxxxxxxx`` for an
automatic span, ``W-xxxxxxxx`` for an automatic withholding (both stable
digests of what they cover, so the same redaction keeps its label between
runs), ``M<n>`` for a reviewer's own. A reviewer lifts a redaction by its
label and adds one by quoting the text (:func:`locate`): never by offsets.
A note flagged as third-party information is shown with the redactions it
would carry if released, so the decision is taken on what would go out.
"""

from __future__ import annotations

import hashlib
import html
from typing import Any, Iterable

from governance.sar.exemptions import exemption
from governance.sar.export import SECTIONS, _DETAILS, _ordered, segments
from governance.sar.redaction import Redaction, RedactionContext, default_rules, redact_records
from governance.sar.redaction.record_rules import needs_decision
from governance.sar.register import RequestError
from governance.sar.withholding import SILENT_CODES

__all__ = ["build_preview", "preview_text", "preview_html", "labels_markdown", "locate", "find_label", "label_of"]

_LABELS_SHOWN = 400  # in Airflow's form; the rest are in the CLI preview


def label_of(r: Redaction) -> str:
    """The reviewer's handle on a redaction (stable for automatic ones)."""
    if r.source == "reviewer":
        return "M" + r.rule.split(":", 1)[1]
    kind = "W" if r.withholds else "R"
    key = f"{r.entity}|{r.record_id}|{r.field}|{r.start}|{r.end}|{r.code}|{r.rule}"
    return f"{kind}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def _entry(r: Redaction) -> dict[str, Any]:
    return {"label": label_of(r), "entity": r.entity, "record_id": r.record_id, "field": r.field, "start": r.start,
            "end": r.end, "code": r.code, "rule": r.rule, "source": r.source,
            "reference": exemption(r.code).reference}


def _fields(fields: dict[str, str], spans: list[Redaction]) -> dict[str, list[dict[str, Any]]]:
    out = {}
    for name, text in fields.items():
        parts: list[dict[str, Any]] = []
        mine = sorted((r for r in spans if r.field == name), key=lambda r: r.start)
        for piece, r in zip(segments(text, mine), _interleave(text, mine)):
            parts.append(piece if r is None else {**_entry(r), "text": text[r.start:r.end]})
        out[name] = parts
    return out


def _interleave(text: str, spans: list[Redaction]) -> Iterable[Redaction | None]:
    """The redaction behind each piece :func:`segments` makes (None for plain text), in the same order."""
    at = 0
    for r in spans:
        if r.start > at:
            yield None
        yield r
        at = max(at, r.end)
    if at < len(text):
        yield None


def build_preview(ws: Any, pack: dict[str, Any]) -> dict[str, Any]:
    """The preview of a request's working set (``process.Workset``) and its current pack."""
    span_rules = [rule for rule in default_rules() if not rule.whole_record]
    context = RedactionContext(ws.people)
    records = []
    for title, entities in SECTIONS:
        for record in _ordered(ws.discovery, entities):
            items = ws.redactions.get(record.key, [])
            withholdings = [r for r in items if r.withholds]
            spans = [r for r in items if not r.withholds]
            undecided = bool(withholdings) and all(needs_decision(r) for r in withholdings)
            if undecided:  # what would go out if released: the span rules on its text
                spans = redact_records([record], context, rules=span_rules).get(record.key, [])
            if withholdings:
                status = ("needs_decision" if undecided else
                          "withheld_silently" if any(r.code in SILENT_CODES for r in withholdings) else "withheld")
            else:
                status = "redacted" if spans else "released"
            details = {k: record.meta.get(k) for k in _DETAILS.get(record.entity, ())
                       if record.meta.get(k) not in (None, "", [])}
            records.append({"section": title, "entity": record.entity, "record_id": record.record_id,
                            "case_id": record.case_id, "date": record.on, "status": status, "details": details,
                            "withholdings": [_entry(r) for r in withholdings],
                            "fields": _fields({k: v for k, v in record.fields.items() if v}, spans)})
    return {"request_id": pack["request_id"], "pack_hash": pack["pack_hash"], "status": pack["status"],
            "blocking": pack["blocking"], "needs_decision": pack["needs_decision"], "awaiting": pack["awaiting"],
            "withheld": pack["withheld"], "records": records}


def find_label(preview: dict[str, Any], label: str) -> dict[str, Any]:
    """The redaction a label names, as shown in ``preview``."""
    for record in preview["records"]:
        for entry in record["withholdings"]:
            if entry["label"] == label:
                return entry
        if record["status"] == "needs_decision":
            continue  # its spans apply only once released: decide first
        for parts in record["fields"].values():
            for part in parts:
                if part.get("label") == label:
                    return part
    raise RequestError(f"request {preview['request_id']}: no redaction labelled {label!r} in the current preview")


def locate(record_fields: dict[str, str], quote: str, *, field: str | None = None,
           occurrence: int | None = None) -> tuple[str, int, int]:
    """(field, start, end) of ``quote`` in a record's text; refused if absent, or ambiguous without ``occurrence``."""
    if not quote or not quote.strip():
        raise RequestError("the text to redact is empty")
    found = [(name, i) for name, text in record_fields.items() if field in (None, name)
             for i in _all(text or "", quote)]
    if not found:
        raise RequestError("the quoted text is not in the record (quote it exactly as the preview shows it)")
    if occurrence is None and len(found) > 1:
        raise RequestError(f"the quoted text occurs {len(found)} times in the record: give --occurrence 1..{len(found)}")
    n = 1 if occurrence is None else occurrence
    if not 1 <= n <= len(found):
        raise RequestError(f"--occurrence must be 1..{len(found)}")
    name, start = found[n - 1]
    return name, start, start + len(quote)


def _all(text: str, quote: str) -> list[int]:
    out, at = [], text.find(quote)
    while at >= 0:
        out.append(at)
        at = text.find(quote, at + 1)
    return out


def _mark(part: dict[str, Any]) -> str:
    return f"[[{part['label']} {part['code']} {part['rule']}: {part['text']}]]"


def preview_text(preview: dict[str, Any]) -> str:
    """For the terminal: redactions as ``[[LABEL CODE RULE: text]]``."""
    lines = [f"Access request {preview['request_id']} ({preview['status']}); pack hash {preview['pack_hash']}"]
    section = None
    for record in preview["records"]:
        if record["section"] != section:
            section = record["section"]
            lines += ["", f"== {section} =="]
        lines.append(f"-- {record['entity']} {record['record_id']} {record['date'] or ''} [{record['status']}]")
        for w in record["withholdings"]:
            lines.append(f"   WITHHELD {w['label']} {w['code']} ({w['reference']}) by {w['rule']}")
        if record["details"] and record["entity"] not in ("person", "case"):
            lines.append("   " + "; ".join(f"{k}: {v}" for k, v in record["details"].items()))
        for name, parts in record["fields"].items():
            lines.append(f"   {name}: " + "".join(p["t"] if "t" in p else _mark(p) for p in parts))
    if preview["needs_decision"]:
        lines += ["", "Needs a decision (flagged third-party information; proposed SCH2-P16): "
                  + ", ".join(d["record_id"] for d in preview["needs_decision"])]
    if preview["awaiting"]:
        lines += ["", "Awaiting a second reviewer: " + ", ".join(
            f"M{a['exemption_id']} {a['code']} on {a['record_id']} by {a['applied_by']}" for a in preview["awaiting"])]
    if preview["blocking"]:
        lines.append("Cannot be approved yet: " + "; ".join(preview["blocking"]))
    return "\n".join(lines)


def preview_html(preview: dict[str, Any]) -> str:
    """A self-contained HTML fragment (every value escaped) for a console page."""
    e = html.escape
    out = [f'<section class="sar-preview" data-request="{e(preview["request_id"])}" '
           f'data-pack-hash="{e(preview["pack_hash"])}">',
           f"<h1>Access request {e(preview['request_id'])}</h1>"]
    if preview["blocking"]:
        out.append("<p class=\"blocking\">Cannot be approved yet: " + e("; ".join(preview["blocking"])) + "</p>")
    for record in preview["records"]:
        out.append(f'<article class="record {e(record["status"])}" data-entity="{e(record["entity"])}" '
                   f'data-record="{e(record["record_id"])}"><h2>{e(record["entity"])} {e(record["record_id"])} '
                   f'<small>{e(str(record["date"] or ""))} {e(record["status"])}</small></h2>')
        for w in record["withholdings"]:
            out.append(f'<p class="withheld" data-label="{e(w["label"])}">Withheld: {e(w["code"])} '
                       f'({e(w["reference"])}), rule {e(w["rule"])}</p>')
        for name, parts in record["fields"].items():
            body = "".join(e(p["t"]) if "t" in p else
                           f'<mark data-label="{e(p["label"])}" data-code="{e(p["code"])}" data-rule="{e(p["rule"])}" '
                           f'title="{e(p["label"])} {e(p["code"])} {e(p["rule"])}">{e(p["text"])}</mark>'
                           for p in parts)
            out.append(f'<p class="field" data-field="{e(name)}">{body}</p>')
        out.append("</article>")
    for a in preview["awaiting"]:
        out.append(f'<p class="awaiting">M{a["exemption_id"]} {e(a["code"])} on {e(a["record_id"])} '
                   f'awaits a second reviewer (applied by {e(a["applied_by"])})</p>')
    out.append("</section>")
    return "\n".join(out)


def labels_markdown(preview: dict[str, Any]) -> str:
    """Every redaction as the form lists it: record, label, code, rule; no text (Airflow keeps what it shows)."""
    lines = ["| record | status | redactions (label code rule) |", "|---|---|---|"]
    shown = 0
    for record in preview["records"]:
        marks = [*record["withholdings"], *(p for parts in record["fields"].values() for p in parts if "label" in p)]
        if not marks:
            continue
        if shown >= _LABELS_SHOWN:
            lines.append(f"| ... | | more in `governance sar preview --request {preview['request_id']}` |")
            break
        shown += 1
        lines.append(f"| {record['entity']} {record['record_id']} | {record['status']} | "
                     + "; ".join(f"{m['label']} {m['code']} {m['rule']}" for m in marks) + " |")
    return "\n".join(lines)

"""Destruction certificates: JSON for machines, PDF for people. No record content.

A certificate names the record identifiers, class, rule, authoriser, dates,
method (NIST SP 800-88 Rev. 2 terms), counts and the ledger entries (sequence
numbers and hashes) that record the destruction, so an auditor can tie it to
the verified ledger.
"""

from __future__ import annotations

import io
import json
from collections import Counter

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.ledger.receipt import receipt_for
from governance.retention import tables
from governance.retention.batches import load_batch
from governance.retention.context import RetentionContext

__all__ = ["build_certificate", "render_pdf", "issue_certificate", "METHODS"]

METHODS = {
    "rows": "Clear (NIST SP 800-88 Rev. 2): rows deleted in the case store; on SQLite with secure_delete, "
            "freed pages are overwritten. Storage media sanitisation and backups follow the council's policy; "
            "tombstones catch restored records.",
    "objects": "Clear: every version of each object deleted from object storage (versioned buckets included).",
    "anonymise": "De-identification: a statistical skeleton (case type, years, age band, outcome code) kept "
                 "without identifiers; the case itself destroyed as above.",
}


def build_certificate(ctx: RetentionContext, batch_id: str) -> dict:
    batch = load_batch(ctx.state, batch_id)
    if batch.status != "verified":
        raise GovernanceError(f"batch {batch_id} is {batch.status}: certificates are issued for verified batches")
    with ctx.state.connect() as conn:
        b = conn.execute(sa.select(tables.batches).where(tables.batches.c.batch_id == batch_id)).one()
        items = conn.execute(sa.select(tables.batch_items).where(tables.batch_items.c.batch_id == batch_id)
                             .order_by(tables.batch_items.c.case_id)).all()
        chunk_rows = conn.execute(sa.select(tables.chunks).where(tables.chunks.c.batch_id == batch_id)).all()
    seqs = sorted({s for r in chunk_rows for s in (r.intent_seq, r.complete_seq) if s})
    ledger_range = {}
    if seqs:
        first = next(ctx.ledger.entries(seqs[0], seqs[0] + 1))
        last = next(ctx.ledger.entries(seqs[-1], seqs[-1] + 1))
        ledger_range = {"first_seq": first.seq, "first_hash": first.entry_hash,
                        "last_seq": last.seq, "last_hash": last.entry_hash,
                        # inclusion proofs + signed tree head: checkable offline (governance audit verify-receipt)
                        "receipt": receipt_for(ctx.ledger, seqs)}
    object_versions = sum(json.loads(r.counts or "{}").get("object_versions", 0) for r in chunk_rows)
    done = [i for i in items if i.state == "done"]
    return {
        "certificate": "destruction",
        "batch_id": batch_id,
        "store": batch.store,
        "as_of": batch.as_of.isoformat(),
        "schedule_version": batch.schedule_version,
        "created_by": batch.created_by,
        "authorised_by": batch.approved_by,
        "authorised_at": b.decided_at.isoformat() if b.decided_at else None,
        "executed_at": b.executed_at.isoformat() if b.executed_at else None,
        "verified_at": b.verified_at.isoformat() if b.verified_at else None,
        "methods": METHODS,
        "counts": {
            "destroyed": sum(1 for i in done if i.action == "destroy"),
            "anonymised": sum(1 for i in done if i.action == "anonymise"),
            "skipped": sum(1 for i in items if i.state == "skipped"),
            "by_class": dict(sorted(Counter(i.case_type for i in done).items())),
            "by_rule": dict(sorted(Counter(i.rule_id for i in done).items())),
            "object_versions_deleted": object_versions,
        },
        "crypto_shredded_key_ids": [],
        "ledger": ledger_range,
        "records": [{"case_id": i.case_id, "class": i.case_type, "rule": i.rule_id, "action": i.action} for i in done],
        "skipped": [{"case_id": i.case_id, "reason": i.skip_reason} for i in items if i.state == "skipped"],
    }


def render_pdf(cert: dict) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=f"Destruction certificate {cert['batch_id']}")
    c = cert["counts"]
    facts = [
        ["Batch", cert["batch_id"]], ["Case store", cert["store"]], ["Retention as of", cert["as_of"]],
        ["Schedule version", cert["schedule_version"][:16] + "..."], ["Proposed by", cert["created_by"]],
        ["Authorised by", f"{cert['authorised_by']} at {cert['authorised_at']}"],
        ["Verified at", str(cert["verified_at"])],
        ["Destroyed / anonymised / skipped", f"{c['destroyed']} / {c['anonymised']} / {c['skipped']}"],
        ["Object versions deleted", str(c["object_versions_deleted"])],
        ["Ledger entries", f"seq {cert['ledger'].get('first_seq')} to {cert['ledger'].get('last_seq')}"],
        ["Last ledger hash", cert["ledger"].get("last_hash", "")[:32] + "..."],
    ]
    story = [Paragraph("Certificate of destruction", styles["Title"]),
             Paragraph("Records listed below were disposed of under the retention schedule. "
                       "This certificate holds identifiers only: no content of the destroyed records.", styles["Normal"]),
             Spacer(1, 10), _table(facts, Table, TableStyle, colors), Spacer(1, 10),
             Paragraph("Method", styles["Heading2"])]
    story += [Paragraph(f"<b>{k}</b>: {v}", styles["Normal"]) for k, v in cert["methods"].items()]
    story += [Spacer(1, 10), Paragraph("By class and rule", styles["Heading2"]),
              _table([["class", "cases"], *[[k, str(v)] for k, v in c["by_class"].items()]], Table, TableStyle, colors),
              Spacer(1, 6),
              _table([["rule", "cases"], *[[k, str(v)] for k, v in c["by_rule"].items()]], Table, TableStyle, colors),
              Spacer(1, 10), Paragraph("Records", styles["Heading2"]),
              _table([["case", "class", "rule", "action"],
                      *[[r["case_id"], r["class"], r["rule"], r["action"]] for r in cert["records"]]], Table, TableStyle, colors)]
    doc.build(story)
    return out.getvalue()


def _table(rows, Table, TableStyle, colors):
    table = Table(rows, hAlign="LEFT", repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                               ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke)]))
    return table


def issue_certificate(ctx: RetentionContext, batch_id: str, *, actor: str) -> dict:
    """Write the JSON and PDF certificate to object storage and record them in the ledger."""
    import hashlib

    cert = build_certificate(ctx, batch_id)
    body = json.dumps(cert, indent=2, sort_keys=True).encode()
    pdf = render_pdf(cert)
    prefix = f"retention/certificates/{batch_id}"
    ctx.objects.put(f"{prefix}.json", body)
    ctx.objects.put(f"{prefix}.pdf", pdf)
    json_uri, pdf_uri = f"{ctx.objects.uri.rstrip('/')}/{prefix}.json", f"{ctx.objects.uri.rstrip('/')}/{prefix}.pdf"
    with ctx.state.begin() as conn:
        ctx.ledger.append(actor=actor, action="retention.certificate.issued", store=cert["store"],
                          counts={"destroyed": cert["counts"]["destroyed"], "anonymised": cert["counts"]["anonymised"]},
                          details={"batch_id": batch_id, "json_sha256": hashlib.sha256(body).hexdigest(),
                                   "pdf_sha256": hashlib.sha256(pdf).hexdigest()},
                          connection=ctx.ledger_connection(conn))
        conn.execute(tables.batches.update().where(tables.batches.c.batch_id == batch_id).values(certificate_uri=json_uri))
    ctx.ledger.checkpoint()
    return {"batch_id": batch_id, "json_uri": json_uri, "pdf_uri": pdf_uri, **cert["counts"]}

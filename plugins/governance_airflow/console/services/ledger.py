"""Ledger page: verification with the newest signed head, entries (identifiers and counts), export, checks.

Reads only: an auditor changes nothing here. The export is written with
``seal=False`` (no new checkpoint is signed because an auditor looked).

The signed tree head shown is issue 13's newest checkpoint (``Ledger.checkpoints()[-1]``:
size, Merkle root, newest entry, previous head, key id, signature). An uploaded
receipt is checked offline with :func:`governance.ledger.receipt.verify_receipt`
(inclusion proofs to the signed root, the head's Ed25519 signature), then against
this ledger: signed by one of its keys, and each entry the receipt names is the
entry this ledger holds at that number (:func:`check_upload`).
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import zipfile
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance_airflow.console import context

__all__ = ["verification", "entries", "actions", "export_zip", "check_upload", "VERIFY_SECONDS"]

VERIFY_SECONDS = 60.0  # and whenever the head moves
SHOWN_IDS = 3


def verification(settings: Settings) -> dict[str, Any]:
    """The verifier's verdict (cached per ledger head for a minute) and the newest signed checkpoint."""
    head = context.ledger_head(settings)

    def compute() -> dict[str, Any]:
        ledger = context.ledger(settings)
        report = ledger.verify()
        newest = ledger.checkpoints()[-1:] or [None]
        cp = newest[0]
        return {"ok": report.ok, "summary": report.summary(), "entries": report.entries,
                "checkpoints": report.checkpoints, "head_hash": report.head_hash, "first_bad_seq": report.first_bad_seq,
                "unsealed": report.unsealed, "key_ids": list(report.key_ids), "fingerprints": dict(report.fingerprints),
                "signed_head": ({"size": cp.size, "root": cp.root, "entry_hash": cp.head, "prev": cp.prev,
                                 "keys": list(cp.keys), "signed_at": cp.signed_at, "key_id": cp.key_id,
                                 "signature": cp.signature} if cp else None),
                "verified_at": context.now().strftime("%Y-%m-%d %H:%M:%S UTC"), "seconds": report.seconds}

    return context.cached(("verify", settings.ledger_url, head), VERIFY_SECONDS, compute)


def actions(settings: Settings) -> list[str]:
    from governance.ledger.schema import entries_table as e

    with context.ledger(settings).engine.connect() as conn:
        return list(conn.execute(sa.select(e.c.action).distinct().order_by(e.c.action)).scalars())


def entries(settings: Settings, *, action: str | None, since: date | None, until: date | None,
            limit: int = 200) -> dict[str, Any]:
    """Newest first; each entry as seq, time, actor, action, store, rule, the first identifiers and the counts.

    Reasons and details are not shown: they are the platform's own words, but a
    manual ``audit record`` entry could carry anything.
    """
    from governance.ledger.schema import entries_table as e

    query = sa.select(e.c.seq, e.c.recorded_at, e.c.actor, e.c.action, e.c.store, e.c.rule, e.c.record_ids, e.c.counts,
                      e.c.entry_hash)
    if action:
        query = query.where(e.c.action == action)
    if since:
        query = query.where(e.c.recorded_at >= since.isoformat())
    if until:
        query = query.where(e.c.recorded_at < (until + timedelta(days=1)).isoformat())
    with context.ledger(settings).engine.connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()
        rows = conn.execute(query.order_by(e.c.seq.desc()).limit(limit)).all()
    out = []
    for r in rows:
        ids = json.loads(r.record_ids or "[]")
        out.append({"seq": r.seq, "recorded_at": r.recorded_at[:19].replace("T", " "), "actor": r.actor,
                    "action": r.action, "store": r.store, "rule": r.rule, "record_count": len(ids),
                    "first_ids": ids[:SHOWN_IDS], "counts": json.loads(r.counts or "{}"), "hash": r.entry_hash[:16]})
    return {"total": total, "shown": len(out), "rows": out}


def export_zip(settings: Settings) -> tuple[str, bytes]:
    """An offline bundle (what ``governance audit export`` writes), zipped in memory."""
    stamp = context.now().strftime("%Y%m%d-%H%M%S")
    with tempfile.TemporaryDirectory(prefix="ledger-export-") as tmp:
        folder = Path(tmp) / f"ledger-{stamp}"
        context.ledger(settings).export(folder, seal=False)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    return f"{folder.name}.zip", buffer.getvalue()


def _entries_mentioning(settings: Settings, digest: str) -> list[dict[str, Any]]:
    from governance.ledger.schema import entries_table as e

    with context.ledger(settings).engine.connect() as conn:
        rows = conn.execute(sa.select(e.c.seq, e.c.action, e.c.details, e.c.recorded_at)
                            .where(e.c.details.contains(digest)).order_by(e.c.seq)).all()
    out = []
    for r in rows:
        details = json.loads(r.details or "{}")
        fields = [k for k, v in details.items() if v == digest]
        if fields:
            out.append({"seq": r.seq, "action": r.action, "field": fields[0], "recorded_at": r.recorded_at[:19],
                        "batch_id": details.get("batch_id")})
    return out


def _hash_at(settings: Settings, seq: int) -> str | None:
    from governance.ledger.schema import entries_table as e

    with context.ledger(settings).engine.connect() as conn:
        return conn.execute(sa.select(e.c.entry_hash).where(e.c.seq == seq)).scalar_one_or_none()


def check_upload(settings: Settings, filename: str, data: bytes) -> dict[str, Any]:
    """Is this file one the ledger vouches for? A certificate (PDF/JSON) or a bundle's manifest.

    The file's SHA-256 is looked up among the digests the ledger recorded when
    it was issued (``retention.certificate.issued``: ``json_sha256``,
    ``pdf_sha256``; ``sar.disclosed``: ``package_sha256``...). A JSON
    certificate's own ledger range is also checked against the entries. The
    verdict counts only if the ledger itself verifies.
    """
    digest = hashlib.sha256(data).hexdigest()
    found = _entries_mentioning(settings, digest)
    ledger_ok = verification(settings)["ok"]
    checks: list[dict[str, Any]] = []
    kind = "file"
    document: Any = None
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        document = None
    if isinstance(document, dict) and document.get("certificate") == "destruction":
        kind = "destruction certificate (JSON)"
        span = document.get("ledger") or {}
        for end in ("first", "last"):
            seq, expected = span.get(f"{end}_seq"), span.get(f"{end}_hash")
            if isinstance(seq, int) and expected:
                actual = _hash_at(settings, seq)
                checks.append({"what": f"{end} ledger entry {seq} of the destruction", "ok": actual == expected})
    elif isinstance(document, dict) and ("tree_head" in document or "entries" in document or "format" in document):
        kind = "ledger receipt"
        checks.extend(_receipt_checks(settings, document))
    elif data[:5] == b"%PDF-":
        kind = "destruction certificate (PDF)"
    issued = [f for f in found if f["action"].endswith(".issued") or f["action"] == "sar.disclosed"]
    # A receipt vouches for itself (proofs, signature) and names its entries; no entry records its digest.
    evidence = all(c["ok"] for c in checks) if kind == "ledger receipt" else bool(found)
    verdict = evidence and ledger_ok and all(c["ok"] is not False for c in checks)
    return {"filename": Path(filename or "upload").name[:120], "sha256": digest, "kind": kind, "bytes": len(data),
            "ledger_entries": found, "issued_entries": issued, "checks": checks, "ledger_ok": ledger_ok,
            "verified": verdict}


def _receipt_checks(settings: Settings, receipt: dict[str, Any]) -> list[dict[str, Any]]:
    """Offline proof first (``governance audit verify-receipt``), then: is it about this ledger?"""
    from governance.ledger.canonical import entry_hash
    from governance.ledger.receipt import verify_receipt

    report = verify_receipt(receipt)
    checks = [{"what": "inclusion proofs and tree head signature (offline, governance audit verify-receipt)",
               "ok": report.ok, "detail": report.summary()}]
    if not report.ok:
        return checks
    keys = verification(settings)["key_ids"]
    checks.append({"what": f"signed by key {report.key_id}, one of this ledger's keys", "ok": report.key_id in keys})
    for item in receipt["entries"]:
        held = _hash_at(settings, item["seq"])
        checks.append({"what": f"entry {item['seq']} is the one this ledger holds",
                       "ok": held is not None and held == entry_hash(item["prev_hash"], item["body"])})
    return checks

"""After execution: prove nothing of the batch remains, rows or object versions."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.retention import tables
from governance.retention.batches import load_batch
from governance.retention.context import RetentionContext
from governance.retention.destroy import remaining_rows

__all__ = ["verify_batch"]


def verify_batch(ctx: RetentionContext, batch_id: str, *, actor: str) -> dict:
    batch = load_batch(ctx.state, batch_id)
    if batch.status not in ("executing", "executed", "verified"):
        raise GovernanceError(f"batch {batch_id} is {batch.status}: nothing executed to verify")
    with ctx.state.connect() as conn:
        chunk_rows = conn.execute(sa.select(tables.chunks).where(tables.chunks.c.batch_id == batch_id)).all()
        pending = conn.execute(sa.select(sa.func.count()).select_from(tables.batch_items).where(
            tables.batch_items.c.batch_id == batch_id, tables.batch_items.c.state == "pending")).scalar_one()
        states = dict(conn.execute(sa.select(tables.batch_items.c.state, sa.func.count())
                                   .where(tables.batch_items.c.batch_id == batch_id)
                                   .group_by(tables.batch_items.c.state)).all())
    unfinished = [r.chunk_no for r in chunk_rows if r.state != "complete"]
    case_ids = sorted({c for r in chunk_rows for c in json.loads(r.case_ids)})
    keys = sorted({k for r in chunk_rows for k in json.loads(r.object_keys)})
    consents = sorted({c for r in chunk_rows for c in json.loads(r.linked_ids or "{}").get("consent", [])})
    with ctx.store.engine.connect() as conn:
        left = remaining_rows(ctx.store, conn, case_ids, consents)
    versions_left = sum(len(ctx.objects.versions(k)) for k in keys)
    # Copies the platform made: stored access-request bundles that drew on these cases.
    from governance.sar.forget import requests_drawing_on

    with ctx.state.connect() as conn:
        bundles = requests_drawing_on(conn, batch.store, case_ids)
    copies_left = sum(len(ctx.objects.versions(k)) for _, k in bundles)
    ok = not unfinished and pending == 0 and not any(left.values()) and versions_left == 0 and copies_left == 0
    result = {
        "batch_id": batch_id, "ok": ok, "cases_destroyed": len(case_ids), "objects_checked": len(keys),
        "rows_remaining": sum(left.values()), "object_versions_remaining": versions_left,
        "copies_checked": len(bundles), "copy_versions_remaining": copies_left,
        "unfinished_chunks": unfinished, "pending_items": pending, "items": states,
    }
    with ctx.state.begin() as conn:
        ctx.ledger.append(actor=actor, action="retention.verified" if ok else "retention.verification_failed",
                          store=batch.store, counts={"cases": len(case_ids), "rows_remaining": result["rows_remaining"],
                                                     "object_versions_remaining": versions_left,
                                                     "copy_versions_remaining": copies_left},
                          details={"batch_id": batch_id}, connection=ctx.ledger_connection(conn))
        if ok:
            now = datetime.now(timezone.utc)
            conn.execute(tables.batches.update().where(tables.batches.c.batch_id == batch_id)
                         .values(status="verified", executed_at=now, verified_at=now))
    if not ok:
        raise GovernanceError(
            f"batch {batch_id} verification failed: {result['rows_remaining']} rows, {versions_left} object versions "
            f"and {copies_left} copy versions remain, {len(unfinished)} chunks unfinished, {pending} items pending")
    return result

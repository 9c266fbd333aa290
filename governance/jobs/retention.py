"""Retention steps as the DAG and the CLI call them: settings in, ids and counts out.

This is where the clock is read (``now`` defaults to the wall clock; tests pass
their own): destructive steps refuse an as-of after today, and holds, access
requests and rejections are judged on today's date while ``as_of`` runs the
retention clocks. Steps that change a store's records run under the store's
claim (:mod:`governance.retention.claims`): a second sweep or execution of the
same store gets one line (:class:`StoreBusy`) and changes nothing. A sweep
first finishes the store's unfinished batches (:func:`finish_unfinished`).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone

import sqlalchemy as sa

from governance.config import Settings
from governance.errors import GovernanceError
from governance.retention import tables
from governance.retention.batches import CHUNK_SIZE, approve_batch, create_batch, load_batch, reject_batch
from governance.retention.certificate import build_certificate, issue_certificate
from governance.retention.claims import StoreBusy, claim_store
from governance.retention.context import RetentionContext
from governance.retention.execute import chunk_numbers, execute_chunk, refuse_future_as_of
from governance.retention.plan import build_plan
from governance.retention.quality_gate import check_quality_gate
from governance.retention.rejections import earlier_decisions
from governance.retention.review import review_markdown
from governance.retention.tombstones import tombstone_key
from governance.retention.verify import verify_batch

__all__ = ["plan", "propose", "approve", "reject", "chunks_of", "execute", "execute_all", "verify", "certify",
           "batch_status", "finish_unfinished", "sweep", "apply_review", "StoreBusy", "UNFINISHED"]

# Batches a sweep finishes before proposing: approved ones not yet run, and executions a killed process left.
UNFINISHED = ("approved", "executing", "executed")


def _wall_clock(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(timezone.utc)


def _plan(ctx: RetentionContext, as_of: date, today: date, *, listing: bool = False):
    # Holds and rejections as they stand on the later of as-of and today: a plan for a past date
    # shows what would go now, one for a future date (a forecast) what would go then.
    return build_plan(ctx.store, ctx.state, ctx.schedule, as_of, tombstone_key=tombstone_key(ctx.keys), listing=listing,
                      in_force_at=max(as_of, today))


def plan(settings: Settings, store: str, *, as_of: date, list_cases: bool = True, now: datetime | None = None) -> dict:
    """The dry run: nothing changes. It may look ahead (a forecast)."""
    with RetentionContext.open(settings, store) as ctx:
        return _plan(ctx, as_of, _wall_clock(now).date(), listing=list_cases).to_json(list_cases=list_cases)


def propose(settings: Settings, store: str, *, as_of: date, created_by: str, chunk_size: int = CHUNK_SIZE,
            quality_max_age: timedelta | None = None, now: datetime | None = None) -> dict:
    """Plan, and make a batch of what is due (``batch_id`` None when nothing is).

    With ``quality_max_age``, no batch is made unless the store passed data
    quality that recently (:mod:`governance.retention.quality_gate`); the DAG and
    the CLI pass 36 hours by default. An as-of after today is refused.
    """
    now = _wall_clock(now)
    refuse_future_as_of(as_of, now.date(), "a batch")
    with RetentionContext.open(settings, store) as ctx, \
            claim_store(ctx.state, store, purpose="batch creation", holder=created_by):
        quality = (check_quality_gate(ctx.state, store, max_age=quality_max_age)
                   if quality_max_age is not None else None)
        p = _plan(ctx, as_of, now.date())
        batch = create_batch(ctx.state, ctx.ledger, p, created_by=created_by, chunk_size=chunk_size)
        ctx.ledger.checkpoint()
        counts = p.counts()
        review = ""
        if batch:
            review = review_markdown(
                store=store, as_of=as_of, batch_id=batch.batch_id, chunks=batch.chunks,
                rule_actions=Counter((d.rule_id, d.action) for d in p.due), by_class=batch.counts["by_class"],
                by_status=counts["by_status"],
                reasons={**counts["exclusion_reasons"], **counts["not_due_reasons"]},
                earlier=earlier_decisions(ctx.state, store, [d.case_id for d in p.due]))
        return {
            "review_markdown": review,
            "store": store, "as_of": as_of.isoformat(), "batch_id": batch.batch_id if batch else None,
            "status": batch.status if batch else "nothing_due", "due": len(p.due),
            "by_status": counts["by_status"], "due_by_class": batch.counts["by_class"] if batch else {},
            "due_by_rule": batch.counts["by_rule"] if batch else {}, "chunks": batch.chunks if batch else 0,
            "due_by_action": batch.counts["by_action"] if batch else {},
            "exclusion_reasons": counts["exclusion_reasons"],
            "quality_run": quality,
        }


def approve(settings: Settings, batch_id: str, *, approved_by: str, note: str | None = None) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return approve_batch(ctx.state, ctx.ledger, batch_id, approved_by=approved_by, schedule=ctx.schedule, note=note).to_json()


def reject(settings: Settings, batch_id: str, *, rejected_by: str, note: str | None = None,
           rejection_days: int | None = None) -> dict:
    """Reject a proposed batch; ``note`` (the reason) is required and kept in the ledger."""
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return reject_batch(ctx.state, ctx.ledger, batch_id, rejected_by=rejected_by, schedule=ctx.schedule,
                            note=note, rejection_days=rejection_days).to_json()


def chunks_of(settings: Settings, batch_id: str) -> list[int]:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return chunk_numbers(ctx, batch_id)


def execute(settings: Settings, batch_id: str, chunk_no: int, *, as_of: date | None = None, actor: str,
            now: datetime | None = None) -> dict:
    """One chunk (the DAG's mapped task); ``as_of`` defaults to the batch's own."""
    batch = load_batch(_state(settings), batch_id)
    with RetentionContext.open(settings, batch.store) as ctx:
        return execute_chunk(ctx, batch_id, chunk_no, as_of=as_of or batch.as_of, actor=actor, now=_wall_clock(now))


def execute_all(settings: Settings, batch_id: str, *, as_of: date | None = None, actor: str, progress=None,
                now: datetime | None = None) -> dict:
    """Every chunk, one at a time, under one claim of the store; ``as_of`` defaults to the batch's own."""
    batch = load_batch(_state(settings), batch_id)
    as_of = as_of or batch.as_of
    now = _wall_clock(now)
    refuse_future_as_of(as_of, now.date())
    totals = {"chunks": 0, "cases": 0, "object_versions": 0, "seconds_objects": 0.0}
    with RetentionContext.open(settings, batch.store) as ctx, \
            claim_store(ctx.state, batch.store, purpose=f"execution of {batch_id}", holder=actor):
        for n, chunk_no in enumerate(chunk_numbers(ctx, batch_id), start=1):
            result = execute_chunk(ctx, batch_id, chunk_no, as_of=as_of, actor=actor, now=now)
            totals["chunks"] += 1
            totals["cases"] += result.get("cases", 0)
            totals["object_versions"] += result.get("object_versions", 0)
            totals["seconds_objects"] += result.get("seconds_objects", 0.0)
            if progress:
                progress(n)
        items = tables.batch_items
        with ctx.state.connect() as conn:  # held back at execution: a hold, request or lock in force now
            totals["skipped"] = conn.execute(sa.select(sa.func.count()).select_from(items).where(
                items.c.batch_id == batch_id, items.c.state == "skipped")).scalar_one()
    return {"batch_id": batch_id, **totals}


def verify(settings: Settings, batch_id: str, *, actor: str) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return verify_batch(ctx, batch_id, actor=actor)


def certify(settings: Settings, batch_id: str, *, actor: str) -> dict:
    """Issue the certificate once: a batch already certified gets its existing certificate back."""
    batch = load_batch(_state(settings), batch_id)
    with RetentionContext.open(settings, batch.store) as ctx, \
            claim_store(ctx.state, batch.store, purpose=f"certificate of {batch_id}", holder=actor):
        with ctx.state.connect() as conn:
            issued = conn.execute(sa.select(tables.batches.c.certificate_uri)
                                  .where(tables.batches.c.batch_id == batch_id)).scalar_one()
        if issued:
            base = issued[: -len(".json")]
            return {"batch_id": batch_id, "json_uri": issued, "pdf_uri": base + ".pdf", "already_issued": True,
                    **build_certificate(ctx, batch_id)["counts"]}
        return issue_certificate(ctx, batch_id, actor=actor)


def batch_status(settings: Settings, batch_id: str) -> dict:
    return load_batch(_state(settings), batch_id).to_json()


def _state(settings: Settings):
    from governance.state import state_engine

    return state_engine(settings)


def run_creator(run_type: str | None, triggering_user: str | None) -> str:
    """Who made an Airflow run's batch: the person who triggered it, or ``schedule`` for a scheduled run.

    Never the service account: the two-person rule compares this with the
    reviewer, so whoever triggered a run cannot approve its batch.
    """
    if str(run_type or "").lower().endswith("scheduled"):
        return "schedule"
    if not triggering_user or not triggering_user.strip():
        raise GovernanceError("this run has no triggering user: the batch's creator must be known for the "
                              "two-person rule")
    return f"airflow:{triggering_user.strip()}"


def apply_review(settings: Settings, batch_id: str, response: dict | None, *,
                 rejection_days: int | None = None) -> dict:
    """Apply what the reviewer chose in Airflow (the ApprovalOperator's result) to the batch.

    ``response`` is None when review was skipped because the schedule auto-approved
    the batch. A timeout never approves: the review task fails before this runs.
    The reviewer is the user who answered; the two-person rule refuses an
    approval by the user who triggered the run (the batch's creator), and a
    rejection needs the reason field filled in: either way the batch stays
    proposed and the task fails with one line.
    """
    batch = load_batch(_state(settings), batch_id)
    if response is None:
        if batch.status != "approved":
            raise GovernanceError(f"batch {batch_id} is {batch.status} and was not reviewed")
        return {"batch_id": batch_id, "approved": True, "approved_by": batch.approved_by}
    user = response.get("responded_by_user") or {}
    reviewer = f"airflow:{user.get('name') or user.get('id') or 'unknown'}"
    chosen = (response.get("chosen_options") or [None])[0]
    reason = str((response.get("params_input") or {}).get("reason") or "").strip() or None
    if batch.status in ("approved", "rejected", "executing", "executed", "verified"):  # a retry after the decision
        return {"batch_id": batch_id, "approved": batch.status != "rejected", "approved_by": batch.approved_by}
    if chosen == "Approve":
        approve(settings, batch_id, approved_by=reviewer, note=reason or "approved in Airflow review")
        return {"batch_id": batch_id, "approved": True, "approved_by": reviewer}
    reject(settings, batch_id, rejected_by=reviewer, note=reason, rejection_days=rejection_days)
    return {"batch_id": batch_id, "approved": False, "approved_by": reviewer, "reason": reason}


def _unfinished(settings: Settings, store: str) -> list[str]:
    b = tables.batches
    with _state(settings).connect() as conn:
        return conn.execute(sa.select(b.c.batch_id).where(
            b.c.store == store, sa.or_(b.c.status.in_(UNFINISHED),
                                       sa.and_(b.c.status == "verified", b.c.certificate_uri.is_(None))))
            .order_by(b.c.created_at, b.c.batch_id)).scalars().all()


def finish_unfinished(settings: Settings, store: str, *, actor: str, now: datetime | None = None) -> list[dict]:
    """Finish the store's unfinished batches: execute (resume), verify and certify each.

    A process killed after the store committed and before completion leaves a
    batch ``executing`` with its cases' documents still in object storage;
    an approved batch may never have started. Each is finished as of its own
    as-of date, holds judged today. Runs under the store's claim.
    """
    now = _wall_clock(now)
    finished = []
    with claim_store(_state(settings), store, purpose="finishing unfinished batches", holder=actor):
        for batch_id in _unfinished(settings, store):
            status = load_batch(_state(settings), batch_id).status
            if status in UNFINISHED:
                execute_all(settings, batch_id, actor=actor, now=now)
            if load_batch(_state(settings), batch_id).status != "verified":
                verify(settings, batch_id, actor=actor)
            certificate = certify(settings, batch_id, actor=actor)
            finished.append({"batch_id": batch_id, "was": status, "destroyed": certificate["destroyed"],
                             "anonymised": certificate["anonymised"], "skipped": certificate["skipped"]})
    return finished


def sweep(settings: Settings, store: str, *, as_of: date, created_by: str, approved_by: str,
          quality_max_age: timedelta | None = None, now: datetime | None = None) -> dict:
    """The whole sweep under one claim of the store: finish what is unfinished, then plan, batch, approve,
    execute, verify and certify."""
    now = _wall_clock(now)
    refuse_future_as_of(as_of, now.date(), "a sweep")
    with claim_store(_state(settings), store, purpose="a sweep", holder=created_by):
        result: dict = {"finished": finish_unfinished(settings, store, actor=approved_by, now=now)}
        proposed = propose(settings, store, as_of=as_of, created_by=created_by, quality_max_age=quality_max_age,
                           now=now)
        result["proposed"] = proposed
        if proposed["batch_id"]:
            batch_id = proposed["batch_id"]
            if proposed["status"] == "proposed":
                approve(settings, batch_id, approved_by=approved_by)
            result["executed"] = execute_all(settings, batch_id, actor=approved_by, now=now)
            result["verified"] = verify(settings, batch_id, actor=approved_by)
            result["certificate"] = certify(settings, batch_id, actor=approved_by)
    return result

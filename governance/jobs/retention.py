"""Retention steps as the DAG and the CLI call them: settings in, ids and counts out."""

from __future__ import annotations

from datetime import date, timedelta

from governance.config import Settings
from governance.retention.batches import CHUNK_SIZE, approve_batch, create_batch, load_batch, reject_batch
from governance.retention.certificate import issue_certificate
from governance.retention.context import RetentionContext
from governance.retention.execute import chunk_numbers, execute_chunk
from governance.retention.plan import build_plan
from governance.retention.quality_gate import check_quality_gate
from governance.retention.tombstones import tombstone_key
from governance.retention.verify import verify_batch

__all__ = ["plan", "propose", "approve", "reject", "chunks_of", "execute", "execute_all", "verify", "certify", "batch_status"]


def _plan(ctx: RetentionContext, as_of: date, *, listing: bool = False):
    return build_plan(ctx.store, ctx.state, ctx.schedule, as_of, tombstone_key=tombstone_key(ctx.keys), listing=listing)


def plan(settings: Settings, store: str, *, as_of: date, list_cases: bool = True) -> dict:
    """The dry run: nothing changes."""
    with RetentionContext.open(settings, store) as ctx:
        return _plan(ctx, as_of, listing=list_cases).to_json(list_cases=list_cases)


def propose(settings: Settings, store: str, *, as_of: date, created_by: str, chunk_size: int = CHUNK_SIZE,
            quality_max_age: timedelta | None = None) -> dict:
    """Plan, and make a batch of what is due (``batch_id`` None when nothing is).

    With ``quality_max_age``, no batch is made unless the store passed data
    quality that recently (:mod:`governance.retention.quality_gate`); the DAG and
    the CLI pass 36 hours by default.
    """
    with RetentionContext.open(settings, store) as ctx:
        quality = (check_quality_gate(ctx.state, store, max_age=quality_max_age)
                   if quality_max_age is not None else None)
        p = _plan(ctx, as_of)
        batch = create_batch(ctx.state, ctx.ledger, p, created_by=created_by, chunk_size=chunk_size)
        ctx.ledger.checkpoint()
        counts = p.counts()
        review = _review_markdown(store, as_of, batch, counts) if batch else ""
        return {
            "review_markdown": review,
            "store": store, "as_of": as_of.isoformat(), "batch_id": batch.batch_id if batch else None,
            "status": batch.status if batch else "nothing_due", "due": len(p.due),
            "by_status": counts["by_status"], "due_by_class": batch.counts["by_class"] if batch else {},
            "due_by_rule": batch.counts["by_rule"] if batch else {}, "chunks": batch.chunks if batch else 0,
            "exclusion_reasons": counts["exclusion_reasons"],
            "quality_run": quality,
        }


def approve(settings: Settings, batch_id: str, *, approved_by: str, note: str | None = None) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return approve_batch(ctx.state, ctx.ledger, batch_id, approved_by=approved_by, schedule=ctx.schedule, note=note).to_json()


def reject(settings: Settings, batch_id: str, *, rejected_by: str, note: str | None = None) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return reject_batch(ctx.state, ctx.ledger, batch_id, rejected_by=rejected_by, schedule=ctx.schedule, note=note).to_json()


def chunks_of(settings: Settings, batch_id: str) -> list[int]:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return chunk_numbers(ctx, batch_id)


def execute(settings: Settings, batch_id: str, chunk_no: int, *, as_of: date, actor: str) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return execute_chunk(ctx, batch_id, chunk_no, as_of=as_of, actor=actor)


def execute_all(settings: Settings, batch_id: str, *, as_of: date, actor: str, progress=None) -> dict:
    store = load_batch(_state(settings), batch_id).store
    totals = {"chunks": 0, "cases": 0, "object_versions": 0, "seconds_objects": 0.0}
    with RetentionContext.open(settings, store) as ctx:
        for n, chunk_no in enumerate(chunk_numbers(ctx, batch_id), start=1):
            result = execute_chunk(ctx, batch_id, chunk_no, as_of=as_of, actor=actor)
            totals["chunks"] += 1
            totals["cases"] += result.get("cases", 0)
            totals["object_versions"] += result.get("object_versions", 0)
            totals["seconds_objects"] += result.get("seconds_objects", 0.0)
            if progress:
                progress(n)
    return {"batch_id": batch_id, **totals}


def verify(settings: Settings, batch_id: str, *, actor: str) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return verify_batch(ctx, batch_id, actor=actor)


def certify(settings: Settings, batch_id: str, *, actor: str) -> dict:
    store = load_batch(_state(settings), batch_id).store
    with RetentionContext.open(settings, store) as ctx:
        return issue_certificate(ctx, batch_id, actor=actor)


def batch_status(settings: Settings, batch_id: str) -> dict:
    return load_batch(_state(settings), batch_id).to_json()


def _state(settings: Settings):
    from governance.state import state_engine

    return state_engine(settings)


def _review_markdown(store: str, as_of: date, batch, counts: dict) -> str:
    """What the IG reviewer sees in Airflow: counts per class, rule and action; no case content."""
    lines = [
        f"**Store** `{store}`, retention judged as of **{as_of.isoformat()}**, batch `{batch.batch_id}`.",
        "",
        f"**{batch.counts['cases']} cases** due, in {batch.chunks} chunks. Nothing else is touched.",
        "",
        "| class | cases |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sorted(batch.counts["by_class"].items())],
        "",
        "| rule | action | cases |", "|---|---|---|",
    ]
    by_action = batch.counts["by_action"]
    lines += [f"| {k} | | {v} |" for k, v in sorted(batch.counts["by_rule"].items())]
    lines += ["", "Actions: " + ", ".join(f"{k} {v}" for k, v in sorted(by_action.items())), "",
              "Kept back (not in the batch): " + ", ".join(f"{k} {v}" for k, v in sorted(counts["exclusion_reasons"].items())),
              "", "Approving destroys these cases' rows and every object version; the run then verifies and certifies. "
              "Holds or access requests placed before execution still win. Details: "
              f"`governance retention batch show {batch.batch_id}`."]
    return "\n".join(lines)


def apply_review(settings: Settings, batch_id: str, response: dict | None) -> dict:
    """Apply what the reviewer chose in Airflow (the ApprovalOperator's result) to the batch.

    ``response`` is None when review was skipped because the schedule auto-approved
    the batch. A timeout never approves: the review task fails before this runs.
    """
    batch = load_batch(_state(settings), batch_id)
    if response is None:
        if batch.status != "approved":
            from governance.errors import GovernanceError

            raise GovernanceError(f"batch {batch_id} is {batch.status} and was not reviewed")
        return {"batch_id": batch_id, "approved": True, "approved_by": batch.approved_by}
    user = response.get("responded_by_user") or {}
    reviewer = f"airflow:{user.get('name') or user.get('id') or 'unknown'}"
    chosen = (response.get("chosen_options") or [None])[0]
    if batch.status in ("approved", "rejected"):  # a retry after the decision was recorded
        return {"batch_id": batch_id, "approved": batch.status == "approved", "approved_by": batch.approved_by}
    if chosen == "Approve":
        approve(settings, batch_id, approved_by=reviewer, note="approved in Airflow review")
        return {"batch_id": batch_id, "approved": True, "approved_by": reviewer}
    reject(settings, batch_id, rejected_by=reviewer, note="rejected in Airflow review")
    return {"batch_id": batch_id, "approved": False, "approved_by": reviewer}

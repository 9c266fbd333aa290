"""Retention page: GET /retention, holds (place, lift), certificate downloads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from governance_airflow.console import context
from governance_airflow.console.access import ConsoleUser, require
from governance_airflow.console.services import retention as service
from governance_airflow.console.web import done, render, stacked_bars

router = APIRouter()


def _store(store: str | None) -> str:
    settings = context.settings()
    return settings.store(store).name if store else settings.stores[0].name


@router.get("/retention")
def retention_page(request: Request, store: str | None = None, as_of: str | None = None,
                   user: ConsoleUser = Depends(require("retention"))):
    settings = context.settings()
    name, day = _store(store), context.parse_day(as_of)
    forecast = service.forecast(settings, name, day)
    return render(request, "retention.html", user, page="retention", store=name, as_of=day.isoformat(),
                  stores=[s.name for s in settings.stores], forecast=forecast,
                  chart=stacked_bars(forecast["months"], forecast["classes"], forecast["counts"]),
                  batches=service.batches(settings), holds=service.holds(settings, name, day),
                  tombstones=service.tombstone_matches(settings, name), can_write=user.may_write("retention"),
                  today=context.today().isoformat(), hold_kinds=service.HOLD_KINDS, hold_flags=service.HOLD_FLAGS,
                  case_types=service.CASE_TYPES)


@router.get("/retention/certificates/{batch_id}.{kind}")
def certificate(batch_id: str, kind: str, user: ConsoleUser = Depends(require("retention"))):
    body = service.certificate(context.settings(), batch_id, kind)
    context.audit_log.info("console: %s downloaded certificate %s.%s", user.name, batch_id, kind)
    media = "application/pdf" if kind == "pdf" else "application/json"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="certificate-{batch_id}.{kind}"'})


@router.post("/retention/holds")
async def place_hold(request: Request, user: ConsoleUser = Depends(require("retention", write=True))):
    form = await request.form()
    hold = service.place_hold(
        context.settings(), actor=user.actor, placed_by=user.name, kind=str(form.get("kind", "")),
        source=str(form.get("source", "")), reason=str(form.get("reason", "")),
        placed_on=context.parse_day(str(form.get("placed_on", "")), name="placed on"),
        review_on=context.parse_day(str(form.get("review_on", "")) or "missing", name="review on"),
        store=str(form.get("store", "")) or None, case_ids=str(form.get("case_ids", "")),
        family_ids=str(form.get("family_ids", "")), person_ids=str(form.get("person_ids", "")),
        case_types=[str(v) for v in form.getlist("case_types")], flags=[str(v) for v in form.getlist("flags")],
        every_case=bool(form.get("every_case")))
    context.audit_log.info("console: %s placed hold %s (ledger entry %s)", user.name, hold["hold_id"], hold["ledger_seq"])
    return done(request, "/retention", f"hold {hold['hold_id']} placed (ledger entry {hold['ledger_seq']})")


@router.post("/retention/holds/{hold_id}/lift")
async def lift_hold(request: Request, hold_id: str, user: ConsoleUser = Depends(require("retention", write=True))):
    form = await request.form()
    lifted = service.lift_hold(context.settings(), actor=user.actor, hold_id=hold_id,
                               lifted_on=context.parse_day(str(form.get("lifted_on", "")), name="lifted on"))
    context.audit_log.info("console: %s lifted hold %s (ledger entry %s)", user.name, hold_id, lifted["ledger_seq"])
    return done(request, "/retention", f"hold {hold_id} lifted from {lifted['lifted_on']} (ledger entry {lifted['ledger_seq']})")

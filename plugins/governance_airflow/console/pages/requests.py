"""Access requests page (records management): register, a request, its preview, hand-over."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from governance_airflow.console import context
from governance_airflow.console.access import ConsoleUser, require
from governance_airflow.console.services import requests as service
from governance_airflow.console.web import done, render

router = APIRouter()


@router.get("/requests")
def register_page(request: Request, as_of: str | None = None, user: ConsoleUser = Depends(require("requests"))):
    settings = context.settings()
    return render(request, "requests.html", user, page="requests", reg=service.register(settings, context.parse_day(as_of)),
                  stores=[s.name for s in settings.stores], requester_kinds=service.REQUESTER_KINDS,
                  today=context.today().isoformat(), can_write=user.may_write("requests"))


@router.post("/requests")
async def lodge(request: Request, user: ConsoleUser = Depends(require("requests", write=True))):
    form = await request.form()
    result = service.lodge(context.settings(), actor=user.actor, store=str(form.get("store", "")),
                           subject_person_id=str(form.get("subject_person_id", "")),
                           received_on=context.parse_day(str(form.get("received_on", "")), name="received on"),
                           requester_kind=str(form.get("requester_kind", "subject")),
                           requester_person_id=str(form.get("requester_person_id", "")),
                           identity_requested=bool(form.get("identity_requested")))
    context.audit_log.info("console: %s registered access request %s", user.name, result["request_id"])
    return done(request, f"/requests/{result['request_id']}",
                f"request {result['request_id']} registered: {result['status']}, deadline {result['deadline'] or 'clock stopped'}")


@router.get("/requests/{request_id}")
def request_page(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests"))):
    settings = context.settings()
    detail = service.detail(settings, request_id, as_of=context.today(), with_preview=False, with_review=True,
                            wait=service.PAGE_WAIT_SECONDS)
    return render(request, "request.html", user, page="requests", d=detail, can_write=user.may_write("requests"),
                  pause_reasons=service.PAUSE_REASONS, today=context.today().isoformat())


@router.get("/requests/{request_id}/preview")
def preview_page(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests"))):
    detail = service.detail(context.settings(), request_id, as_of=context.today(), with_preview=True,
                            wait=service.PAGE_WAIT_SECONDS)
    context.audit_log.info("console: %s opened the preview of request %s", user.name, request_id)
    return render(request, "preview.html", user, page="requests", rid=request_id, doc=detail["preview"],
                  error=detail["pack_error"], pack_hash=(detail["pack"] or {}).get("pack_hash", ""),
                  pack_current=detail["pack_current"], pack_pending=detail["pack_pending"])


@router.post("/requests/{request_id}/clock")
async def clock(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests", write=True))):
    form = await request.form()
    act = service.pause if form.get("act") == "pause" else service.resume
    row = act(context.settings(), request_id, reason=str(form.get("reason", "")),
              on=context.parse_day(str(form.get("on", "")), name="on"))
    return done(request, f"/requests/{request_id}", f"{request_id}: {row['status']}, deadline {row['deadline'] or 'clock stopped'}")


@router.post("/requests/{request_id}/extend")
async def extend(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests", write=True))):
    form = await request.form()
    row = service.extend(context.settings(), request_id, reason=str(form.get("reason", "")),
                         notified_on=context.parse_day(str(form.get("notified_on", "")), name="notified on"))
    return done(request, f"/requests/{request_id}", f"{request_id}: deadline {row['deadline'] or 'clock stopped'}")


@router.post("/requests/{request_id}/review")
async def review(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests", write=True))):
    pack = service.prepare_review(context.settings(), request_id)
    context.audit_log.info("console: %s prepared the review pack of %s", user.name, request_id)
    return done(request, f"/requests/{request_id}", f"{request_id}: review pack {pack['pack_hash'][:16]} ready ({pack['status']})")


@router.post("/requests/{request_id}/approve")
async def approve(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests", write=True))):
    form = await request.form()
    result = service.approve(context.settings(), request_id, reviewer=user.name, actor=user.actor,
                             seen_hash=str(form.get("pack_hash", "")),
                             withhold_undecided=bool(form.get("withhold_undecided")))
    context.audit_log.info("console: %s approved the pack of %s (ledger entry %s)", user.name, request_id, result["ledger_seq"])
    return done(request, f"/requests/{request_id}", f"{request_id}: pack approved (ledger entry {result['ledger_seq']})")


@router.post("/requests/{request_id}/handover")
async def hand_over(request: Request, request_id: str, user: ConsoleUser = Depends(require("requests", write=True))):
    result = service.hand_over(context.settings(), request_id, as_of=context.today(), actor=user.actor)
    context.audit_log.info("console: %s handed over the bundle of %s (ledger entry %s)", user.name, request_id,
                           result["ledger_seq"])
    return done(request, f"/requests/{request_id}", f"{request_id}: {result['status']} (ledger entry {result['ledger_seq']})")


@router.get("/requests/{request_id}/handover/{part}")
def handover_file(request_id: str, part: str, user: ConsoleUser = Depends(require("requests"))):
    name, body = service.handover_file(context.settings(), request_id, part)
    context.audit_log.info("console: %s downloaded the %s of request %s", user.name, part, request_id)
    media = "application/octet-stream" if part == "package" else "text/plain"
    return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

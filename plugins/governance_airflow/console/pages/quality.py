"""Quality and sharing page: quarantine release, findings resolve-with-note, Data Docs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from governance_airflow.console import context
from governance_airflow.console.access import ConsoleUser, require
from governance_airflow.console.services import quality as service
from governance_airflow.console.web import done, render

router = APIRouter()


@router.get("/quality")
def quality_page(request: Request, store: str | None = None, user: ConsoleUser = Depends(require("quality"))):
    settings = context.settings()
    name = settings.store(store).name if store else settings.stores[0].name
    return render(request, "quality.html", user, page="quality", store=name, stores=[s.name for s in settings.stores],
                  q=service.quarantine_by_rule(settings, name), f=service.findings(settings),
                  can_write=user.may_write("quality"))


@router.post("/quality/release")
async def release(request: Request, user: ConsoleUser = Depends(require("quality", write=True))):
    form = await request.form()
    store = str(form.get("store", ""))
    result = service.release(context.settings(), actor=user.actor, store=store,
                             record_ids=[str(v) for v in form.getlist("record_ids")], rule=str(form.get("rule", "")) or None,
                             reason=str(form.get("reason", "")))
    context.audit_log.info("console: %s released %d quarantined records in store %s", user.name, result["count"], result["store"])
    return done(request, f"/quality?store={result['store']}", f"{result['count']} records released in store {result['store']}")


@router.post("/quality/findings/resolve")
async def resolve(request: Request, user: ConsoleUser = Depends(require("quality", write=True))):
    form = await request.form()
    result = service.resolve(context.settings(), by=user.name, actor=user.actor, store=str(form.get("store", "")),
                             finding_key=str(form.get("finding_key", "")), note=str(form.get("note", "")))
    context.audit_log.info("console: %s resolved finding %s (ledger entry %s)", user.name, result["finding_key"],
                           result["ledger_seq"])
    return done(request, f"/quality?store={result['store']}",
                f"{result['finding_key']} resolved (ledger entry {result['ledger_seq']})")


@router.get("/quality/datadocs/{store}/")
def data_docs_index(request: Request, store: str, user: ConsoleUser = Depends(require("quality"))):
    settings = context.settings()
    name = settings.store(store).name
    return render(request, "datadocs.html", user, page="quality", store=name,
                  pages=service.data_docs_pages(settings, name))


@router.get("/quality/datadocs/{store}/_platform/data_docs_default_styles.css")
def data_docs_css(store: str, user: ConsoleUser = Depends(require("quality"))):
    return Response(service.gx_stylesheet(), media_type="text/css",
                    headers={"Content-Security-Policy": service.DATA_DOCS_CSP})


@router.get("/quality/datadocs/{store}/{path:path}")
def data_docs(store: str, path: str, user: ConsoleUser = Depends(require("quality"))):
    body, media = service.data_docs(context.settings(), store, path)
    return Response(body, media_type=media, headers={"Content-Security-Policy": service.DATA_DOCS_CSP})

"""Ledger page: GET /ledger, the export download, POST /ledger/check (reads only, open to auditors)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, UploadFile
from fastapi.responses import Response

from governance_airflow.console import context
from governance_airflow.console.access import ConsoleUser, require
from governance_airflow.console.services import ledger as service
from governance_airflow.console.web import render

router = APIRouter()
MAX_UPLOAD = 20 * 1024 * 1024


def _page(request: Request, user: ConsoleUser, *, action: str | None, since: str | None, until: str | None,
          check: dict | None = None, status_code: int = 200):
    settings = context.settings()
    since_day = context.parse_day(since, name="from") if since else None
    until_day = context.parse_day(until, name="to") if until else None
    return render(request, "ledger.html", user, page="ledger", v=service.verification(settings),
                  actions=service.actions(settings), action=action or "", since=since, until=until,
                  e=service.entries(settings, action=action or None, since=since_day, until=until_day), check=check,
                  status_code=status_code)


@router.get("/ledger")
def ledger_page(request: Request, action: str | None = None, since: str | None = None, until: str | None = None,
                user: ConsoleUser = Depends(require("ledger"))):
    return _page(request, user, action=action, since=since, until=until)


@router.get("/ledger/export")
def export(user: ConsoleUser = Depends(require("ledger"))):
    name, body = service.export_zip(context.settings())
    context.audit_log.info("console: %s downloaded ledger export %s (%d bytes)", user.name, name, len(body))
    return Response(body, media_type="application/zip", headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.post("/ledger/check")
async def check(request: Request, upload: UploadFile, user: ConsoleUser = Depends(require("ledger"))):
    # A read: checking a file changes nothing, so auditors may post it.
    data = await upload.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        from governance.errors import ConfigError

        raise ConfigError(f"upload is larger than {MAX_UPLOAD // (1024 * 1024)} MB")
    result = service.check_upload(context.settings(), upload.filename or "upload", data)
    context.audit_log.info("console: %s checked a %s against the ledger: %s", user.name, result["kind"],
                           "vouched" if result["verified"] else "not vouched")
    return _page(request, user, action=None, since=None, until=None, check=result)

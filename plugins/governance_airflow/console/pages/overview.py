"""GET /overview (IG)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from governance_airflow.console import context
from governance_airflow.console.access import ConsoleUser, require
from governance_airflow.console.services import overview as service
from governance_airflow.console.web import render

router = APIRouter()


@router.get("/overview")
def overview_page(request: Request, as_of: str | None = None, user: ConsoleUser = Depends(require("overview"))):
    settings, day = context.settings(), context.parse_day(as_of)
    data = service.overview(settings, day)
    from governance_airflow.console.services import retention

    retention.warm(settings, day)  # the Retention page is usually next: its forecast reads every case
    return render(request, "overview.html", user, page="overview", o=data)

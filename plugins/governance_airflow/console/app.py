"""The console's FastAPI app: routes of every page, errors as one line, security headers.

Mounted by Airflow's API server under ``/governance`` (see :mod:`.plugin`,
which builds it on the first request). ``create_app()`` builds it without touching
a database, so the plugin loads fast and parsing stays side-effect free.
"""

from __future__ import annotations

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from governance_airflow.console import context
from governance_airflow.console.access import current_user
from governance_airflow.console.web import SECURITY_HEADERS, render

__all__ = ["create_app"]

_HEADINGS = {400: "Not done", 401: "Log in first", 403: "Not for your role", 404: "Not found"}


def create_app() -> FastAPI:
    from governance.errors import GovernanceError
    from governance_airflow.console.pages import ledger, overview, quality, requests, retention

    app = FastAPI(title="Records governance console", docs_url=None, redoc_url=None, openapi_url=None)
    for page in (overview, retention, requests, ledger, quality):
        app.include_router(page.router)

    @app.middleware("http")
    async def headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.get("/", include_in_schema=False)
    async def home(request: Request):
        user = await current_user(request)
        pages = user.pages
        if not pages:
            raise HTTPException(403, detail=f"{user.name} has no console role (Airflow roles: "
                                            f"{', '.join(sorted(user.airflow_roles)) or 'none'})")
        return RedirectResponse(f"{request.scope.get('root_path', '')}/{pages[0][0]}", status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> HTMLResponse:
        return _error(request, exc.status_code, str(exc.detail))

    @app.exception_handler(GovernanceError)
    async def governance_error(request: Request, exc: GovernanceError) -> HTMLResponse:
        # The platform's own errors name the argument and the rule, never record content.
        context.audit_log.info("console: refused %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error(request, 400, str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__)

    return app


def _error(request: Request, status_code: int, detail: str) -> HTMLResponse:
    user = getattr(request.state, "console_user", None)
    response = render(request, "error.html", user, status_code=status_code, code=status_code, heading=_HEADINGS.get(status_code, "Error"),
                      detail=detail, back=request.headers.get("referer") if status_code == 400 else None)
    if status_code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response

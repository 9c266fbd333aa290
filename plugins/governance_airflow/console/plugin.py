"""Airflow plugin: the governance console (a FastAPI app on the API server, and its navigation entries).

Airflow's plugin manager does not walk ``governance_airflow/`` (``plugins/.airflowignore``:
it would execute every file as a top-level module); it executes
``plugins/governance_console.py``, which imports this class. ``fastapi_apps``
mounts the console under ``/governance``; ``external_views`` adds a "Governance"
menu whose entries open the pages inside Airflow's UI (same origin, so the login
cookie reaches them). Every page checks the user itself: see
:mod:`governance_airflow.console.access`.

Every Airflow process loads plugins (workers and the DAG processor too, for the
listener), so this module stays light: the app (FastAPI routes, Jinja2, the
platform's modules) is built on the first request to it, in the API server only.
"""

from __future__ import annotations

import threading
from typing import Any

from airflow.plugins_manager import AirflowPlugin

from governance_airflow.task_summary import TaskSummaryListener

__all__ = ["GovernanceConsolePlugin", "LazyConsoleApp", "URL_PREFIX"]

URL_PREFIX = "/governance"
_VIEWS = (("Overview", "overview", "IG team"), ("Retention", "retention", "IG team, auditors"),
          ("Access requests", "requests", "records management"), ("Ledger", "ledger", "auditors, IG team"),
          ("Quality and sharing", "quality", "IG team"))


class LazyConsoleApp:
    """An ASGI app that builds :func:`governance_airflow.console.app.create_app` on its first request."""

    def __init__(self) -> None:
        self._app: Any = None
        self._lock = threading.Lock()

    def _get(self) -> Any:
        if self._app is None:
            with self._lock:
                if self._app is None:
                    from governance_airflow.console.app import create_app

                    self._app = create_app()
        return self._app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        await self._get()(scope, receive, send)


class GovernanceConsolePlugin(AirflowPlugin):
    name = "governance_console"
    fastapi_apps = [{"app": LazyConsoleApp(), "url_prefix": URL_PREFIX, "name": "Governance console"}]
    external_views = [
        {"name": title, "href": f"{URL_PREFIX}/{path}", "destination": "nav", "category": "Governance",
         "url_route": f"governance-{path}", "for": who}
        for title, path, who in _VIEWS
    ]
    # A readable summary of each governance task's counts at the end of its log (see task_summary).
    listeners = [TaskSummaryListener()]

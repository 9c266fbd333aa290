"""Airflow plugin: the governance console (a FastAPI app on the API server, and its navigation entries).

Airflow's plugin manager does not walk ``governance_airflow/`` (``plugins/.airflowignore``:
it would execute every file as a top-level module); it executes
``plugins/governance_console.py``, which imports this class. ``fastapi_apps`` mounts the console under ``/governance``;
``external_views`` adds a "Governance" menu whose entries open the pages inside
Airflow's UI (same origin, so the login cookie reaches them). Every page checks
the user itself: see :mod:`governance_airflow.console.access`.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from governance_airflow.console.app import URL_PREFIX, create_app
from governance_airflow.task_summary import TaskSummaryListener

_VIEWS = (("Overview", "overview", "IG team"), ("Retention", "retention", "IG team, auditors"),
          ("Access requests", "requests", "records management"), ("Ledger", "ledger", "auditors, IG team"),
          ("Quality and sharing", "quality", "IG team"))


class GovernanceConsolePlugin(AirflowPlugin):
    name = "governance_console"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Governance console"}]
    external_views = [
        {"name": title, "href": f"{URL_PREFIX}/{path}", "destination": "nav", "category": "Governance",
         "url_route": f"governance-{path}", "for": who}
        for title, path, who in _VIEWS
    ]
    # A readable summary of each governance task's counts at the end of its log (see task_summary).
    listeners = [TaskSummaryListener()]

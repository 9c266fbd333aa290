"""The governance console: pages for the IG team, records management and auditors inside Airflow.

An Airflow 3 plugin (:mod:`governance_airflow.console.plugin`, registered by
``plugins/governance_console.py``) mounts the FastAPI app of
:mod:`governance_airflow.console.app` under ``/governance`` on Airflow's API
server and adds navigation entries (``external_views``). Layers, one way:

- ``pages/``: HTTP only (routes, forms, authorisation, templates);
- ``services/``: one module per page, the only place that reads or changes the
  platform, through ``governance/`` functions, so a merge re-points one file;
- ``access``: the Airflow user and the console role it maps to;
- ``context``: settings from Airflow connections, the clock, small caches.

Absolute imports only: Airflow puts ``plugins/`` on ``sys.path``; this package is
imported, never executed file by file.
"""

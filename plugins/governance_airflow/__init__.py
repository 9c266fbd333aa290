"""Airflow adapters for the governance platform.

Thin glue between Airflow and the plain-Python ``governance`` package:

- :mod:`governance_airflow.hooks`: :class:`GovernanceHook` turns Airflow
  connections (and the ``governance_stores`` variable) into
  :class:`governance.config.Settings`.
- :mod:`governance_airflow.callbacks`: task callbacks (failure alerts) that log
  identifiers and counts only.

Airflow puts the plugins folder on ``sys.path``, so DAGs import these as
``governance_airflow.hooks`` and ``governance_airflow.callbacks``. Nothing here
is imported eagerly: this file stays empty of imports because Airflow's plugin
manager executes every ``.py`` file under ``plugins/`` as a top-level module
(``__init__``, ``hooks``, ``callbacks``), and relative imports would break that.
"""

__all__: list[str] = []

"""Registers the governance console with Airflow (the plugin manager executes this file).

The console itself lives in ``governance_airflow/console/`` (a package Airflow's
plugin manager skips, see ``.airflowignore``); see docs/console.md.
"""

from governance_airflow.console.plugin import GovernanceConsolePlugin

__all__ = ["GovernanceConsolePlugin"]

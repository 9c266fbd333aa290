"""Records governance for children's services: the platform core.

A plain Python package: importable and testable without Airflow, which it never
imports. DAGs in ``dags/`` call into it; so does the ``governance`` CLI.
"""

__version__ = "0.1.0"

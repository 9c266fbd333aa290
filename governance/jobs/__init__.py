"""Job functions: what one DAG task does, as plain Python.

Each job takes :class:`~governance.config.Settings` and simple arguments, does
one unit of work through the platform's capabilities, and returns a small
JSON-able dict of identifiers, counts and object URIs, which is what Airflow
puts in XCom. No job imports Airflow; the CLI and tests call the same functions.

One module per DAG: :mod:`governance.jobs.foundation` for ``platform_foundation``.
"""

__all__: list[str] = []

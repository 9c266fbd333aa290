"""Shared pieces of the property-based tests: Hypothesis settings and database digests.

CI runs a small, fixed set of examples (``derandomize=True``: the same examples
on every run and machine). A longer, randomised run is one variable away::

    GOVERNANCE_HYPOTHESIS_EXAMPLES=500 .venv/bin/python -m pytest -q tests/property

(with ``GOVERNANCE_TEST_POSTGRES_URL`` reachable for the PostgreSQL half).
"""

from __future__ import annotations

import hashlib
import os

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings

LONG_RUN = int(os.environ.get("GOVERNANCE_HYPOTHESIS_EXAMPLES", "0") or 0)


def examples(ci_default: int) -> settings:
    """Hypothesis settings: ``ci_default`` derandomized examples, or the long run's count, randomised."""
    return settings(
        max_examples=LONG_RUN or ci_default,
        derandomize=not LONG_RUN,
        deadline=None,  # jobs touch real databases; timing is not the property under test
        database=None,  # no example database in the repo or CI
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
        print_blob=True,
        # CI reports the failing example as generated; shrinking (minutes on real databases) is for the long run.
        phases=tuple(Phase) if LONG_RUN else (Phase.explicit, Phase.reuse, Phase.generate),
    )


def database_digest(url: str) -> str:
    """SHA-256 over every table's rows (sorted), for "nothing changed" assertions on SQLite and PostgreSQL."""
    engine = sa.create_engine(url)
    digest = hashlib.sha256()
    try:
        with engine.connect() as conn:
            for name in sorted(sa.inspect(conn).get_table_names()):
                rows = sorted(repr(tuple(r)) for r in conn.execute(sa.text(f'SELECT * FROM "{name}"')))
                digest.update(f"{name}:{len(rows)}\n".encode())
                for row in rows:
                    digest.update(row.encode("utf-8", "surrogatepass"))
    finally:
        engine.dispose()
    return digest.hexdigest()

"""The deployment test runs in CI (CI=true) and by choice elsewhere.

It starts a whole Airflow (six processes) and takes a few minutes, so on a
developer's machine it is skipped unless asked for:

    GOVERNANCE_TEST_DEPLOY=1 .venv/bin/python -m pytest -q tests/deploy     # run it alone
    GOVERNANCE_TEST_DEPLOY=0 CI=true ...                                    # skip it even in CI

It needs PostgreSQL (GOVERNANCE_TEST_POSTGRES_URL) and Redis on 127.0.0.1:6379;
with CI=true a missing one fails the test rather than skipping it.
"""

from __future__ import annotations

import os

import pytest

WANTED = os.environ.get("GOVERNANCE_TEST_DEPLOY", "").strip()
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    run = WANTED == "1" or (IN_CI and WANTED != "0")
    if run:
        return
    skip = pytest.mark.skip(reason="deployment test: set GOVERNANCE_TEST_DEPLOY=1 to run it (CI runs it)")
    for item in items:
        if item.get_closest_marker("deploy") is not None:
            item.add_marker(skip)

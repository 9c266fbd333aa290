"""Fixtures for the console: Airflow's configuration, one seeded scenario, an in-process client per role.

As in tests/dags/conftest.py, Airflow reads its configuration at first import,
so the environment is set here at import (the same private AIRFLOW_HOME if the
DAG tests set one first). The scenario (tests/console/scenario.py) is built
once per session and shared: tests that change it (holds, findings, releases)
act on their own identifiers.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGINS_FOLDER = REPO / "plugins"

_HOME = os.environ.get("GOVERNANCE_TEST_AIRFLOW_HOME")
if not _HOME:
    _HOME = tempfile.mkdtemp(prefix="gov-airflow-test-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ.update({
    "GOVERNANCE_TEST_AIRFLOW_HOME": _HOME,
    "AIRFLOW_HOME": _HOME,
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
    # Pages wait for a request's pack here (a cold build answers "being prepared" in production:
    # test_a_cold_request_page_answers_at_once_and_shows_the_pack_when_ready tests that).
    "GOVERNANCE_CONSOLE_PACK_WAIT_SECONDS": "120",
})
for _path in (str(REPO), str(PLUGINS_FOLDER)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

ROLES = {"ig": "admin", "records_management": "user", "auditor": "viewer"}  # console role -> Airflow role


@pytest.fixture(scope="session")
def scenario_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("console") / "var"


@pytest.fixture(scope="session")
def scenario(scenario_home: Path):
    from tests.console.scenario import build

    return build(scenario_home)


@pytest.fixture(scope="session")
def airflow_metadata() -> str:
    """Airflow's metadata database in the private AIRFLOW_HOME, created once (its URL)."""
    pytest.importorskip("airflow")
    from airflow.utils.db import initdb

    initdb()
    return os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.fixture(scope="session")
def console(scenario, airflow_metadata):
    """(TestClient on the console mounted at /governance as the API server mounts it, token maker)."""
    pytest.importorskip("airflow")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    manager.init()
    from governance_airflow.console import context
    from governance_airflow.console.app import create_app

    context.use_settings(scenario.settings)  # not GOVERNANCE_* variables: they would outlive this session's tests
    parent = FastAPI()
    parent.mount("/governance", create_app())

    def token(role: str, name: str | None = None) -> dict[str, str]:
        user = SimpleAuthManagerUser(username=name or f"{role}.user", role=ROLES.get(role, role))
        return {"Authorization": f"Bearer {manager.generate_jwt(user)}"}

    yield TestClient(parent), token
    context.use_settings(None)


@pytest.fixture
def console_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything the console logs (and the platform under it), at INFO."""
    caplog.set_level(logging.INFO)
    return caplog

"""Airflow for DAG tests: a private AIRFLOW_HOME, this repo's dags/ and plugins/.

Airflow reads its configuration when it is first imported, so the environment
is set here, at conftest import, before any test module imports airflow. The
metadata database is a SQLite file in a temporary AIRFLOW_HOME, created once
per session with :func:`airflow.utils.db.initdb` (ORM ``create_all`` plus an
alembic stamp: a second or two, against ~10 s for ``airflow db migrate``).

Each test gets its own ``GOVERNANCE_HOME`` and no governance connections or
variables from the developer's shell, so tests run on the embedded default.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "dags"
PLUGINS_FOLDER = REPO / "plugins"

# Never the developer's own AIRFLOW_HOME or metadata database.
_HOME = os.environ.get("GOVERNANCE_TEST_AIRFLOW_HOME")
if not _HOME:
    _HOME = tempfile.mkdtemp(prefix="gov-airflow-test-")
    atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
os.environ.update(
    {
        "GOVERNANCE_TEST_AIRFLOW_HOME": _HOME,
        "AIRFLOW_HOME": _HOME,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_HOME}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_FOLDER),
    }
)
# The worker finds governance/ and governance_airflow/ the way a deployment
# does: repo root and plugins folder on the path.
for _path in (str(REPO), str(PLUGINS_FOLDER)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

#: Environment that would point tests at real systems; removed for every test.
_LEAKY_PREFIXES = ("AIRFLOW_CONN_GOVERNANCE_", "AIRFLOW_CONN_CASE_STORE_", "AIRFLOW_VAR_GOVERNANCE_")
_LEAKY_GOVERNANCE = ("GOVERNANCE_STORE", "GOVERNANCE_LEDGER_URL", "GOVERNANCE_OBJECTS_URL",
                     "GOVERNANCE_S3_ENDPOINT_URL", "GOVERNANCE_KEYS_DIR")


@pytest.fixture(autouse=True)
def governance_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh GOVERNANCE_HOME per test, with no inherited governance configuration."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) or name.startswith(_LEAKY_GOVERNANCE):
            monkeypatch.delenv(name)
    home = tmp_path / "var"
    monkeypatch.setenv("GOVERNANCE_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """Airflow's metadata database in the private AIRFLOW_HOME, created once."""
    pytest.importorskip("airflow")
    from airflow.utils.db import initdb

    initdb()


@pytest.fixture(scope="session")
def dagbag():
    """Every DAG file in dags/, parsed the way the DAG processor parses it."""
    pytest.importorskip("airflow")
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))

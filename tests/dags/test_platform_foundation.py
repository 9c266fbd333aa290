"""platform_foundation, run by Airflow's own ``dag.test()`` on the embedded default.

Airflow's metadata database is SQLite in the session's private AIRFLOW_HOME
(see conftest); the governance stores, ledger and objects live in the test's
GOVERNANCE_HOME. No connections are defined, so the hook falls back to the
defaults: this is also the zero-configuration path a new installation takes.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytest.importorskip("airflow")

from governance.config import Settings  # noqa: E402
from governance.jobs.foundation import SEED_ACTION, export_directory  # noqa: E402
from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger, verify_bundle  # noqa: E402
from governance.stores.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow

DAG_ID = "platform_foundation"
TASKS = ("seed_case_stores", "record_seed_in_ledger", "export_and_verify_ledger")


def _xcom_returns(dag_run) -> dict[str, Any]:
    """task_id -> returned value, read from Airflow's metadata database."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID, key="return_value")
        ).all()
        return {row.task_id: XComModel.deserialize_value(row) for row in rows}


def _states(dag_run) -> dict[str, str]:
    """task_id -> state of the run's task instances, from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.task_id, TaskInstance.state).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id
    )
    with create_session() as session:
        return {task_id: str(state) for task_id, state in session.execute(query)}


def test_runs_end_to_end_on_the_embedded_default(airflow_db, dagbag, governance_home) -> None:
    dag = dagbag.dags[DAG_ID]

    dag_run = dag.test(run_conf={"families": 20, "seed": 7})

    assert str(dag_run.state) == "success", _states(dag_run)
    settings = Settings.from_env()
    assert settings.home == governance_home.resolve()

    # The store holds the generated records.
    counts = open_store(settings.store("default")).counts()
    assert counts["family"] == 20
    assert counts["person"] > 0 and counts["case"] > 0 and counts["casenote"] > 0

    # The ledger holds the seeding entry and verifies.
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        report = ledger.verify()
        entries = list(ledger.entries())
    finally:
        ledger.close()
    assert report.ok, report.summary()
    assert [e.action for e in entries] == [SEED_ACTION]
    assert entries[0].details["run_id"] == dag_run.run_id
    assert entries[0].counts["family"] == 20

    # The bundle exists where the DAG says and verifies offline.
    bundle = export_directory(settings, dag_run.run_id)
    assert (bundle / "MANIFEST.json").is_file()
    assert verify_bundle(bundle).ok

    # XCom carries identifiers, counts and URIs.
    returned = _xcom_returns(dag_run)
    assert set(returned) == set(TASKS)
    assert returned["seed_case_stores"]["stores"]["default"]["rows"]["family"] == 20
    assert returned["record_seed_in_ledger"]["seq"] == 1
    assert returned["export_and_verify_ledger"]["bundle_uri"] == bundle.resolve().as_uri()
    assert returned["export_and_verify_ledger"]["head_hash"] == report.head_hash
    _assert_only_ids_and_counts(returned)


def _assert_only_ids_and_counts(value: Any, path: str = "xcom") -> None:
    """Strings in XCom are short identifiers, hashes, URIs or dates, never free text."""
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_only_ids_and_counts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_only_ids_and_counts(item, f"{path}[{index}]")
    elif isinstance(value, str):
        assert " " not in value and len(value) <= 200, f"{path} looks like free text: {value[:40]!r}"


def test_a_failed_task_alerts_without_content_and_stops_the_run(
    airflow_db, dagbag, governance_home, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A case store connection SQLAlchemy has no dialect for: the first task fails
    # with a GovernanceError before touching anything.
    monkeypatch.setenv("AIRFLOW_CONN_CASE_STORE_DEFAULT", json.dumps({"conn_type": "nosuchdb", "host": "db.invalid"}))
    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:  # fail now, not after two backed-off retries
        monkeypatch.setattr(task, "retries", 0)

    with caplog.at_level(logging.ERROR, logger="governance.alerts"):
        dag_run = dag.test(run_conf={"families": 5, "seed": 1})

    assert str(dag_run.state) == "failed"
    states = _states(dag_run)
    assert states["seed_case_stores"] == "failed"
    assert states["record_seed_in_ledger"] == states["export_and_verify_ledger"] == "upstream_failed"
    alerts = [r.getMessage() for r in caplog.records if "GOVERNANCE TASK FAILED" in r.getMessage()]
    assert len(alerts) == 1, caplog.text[-2000:]
    assert f"dag_id={DAG_ID} task_id=seed_case_stores run_id={dag_run.run_id} try_number=1" in alerts[0]
    assert "error=ConfigError" in alerts[0]
    # Nothing was written: no ledger, no export.
    assert not (governance_home / "ledger.db").exists()
    assert not (governance_home / "exports").exists()


def test_seeds_two_stores_with_different_mappings(
    airflow_db, dagbag, governance_home, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several case stores at once: the reference schema and a Home-Start-style store."""
    monkeypatch.setenv("AIRFLOW_VAR_GOVERNANCE_STORES", "default,homestart")
    monkeypatch.setenv(
        "AIRFLOW_CONN_CASE_STORE_HOMESTART",
        json.dumps({"conn_type": "sqlite", "host": str(governance_home / "hs" / "homestart.db"),
                    "extra": {"mapping": "homestart"}}),
    )
    dag = dagbag.dags[DAG_ID]

    dag_run = dag.test(run_conf={"families": 12, "seed": 3})

    assert str(dag_run.state) == "success", _states(dag_run)
    seeded = _xcom_returns(dag_run)["seed_case_stores"]["stores"]
    assert set(seeded) == {"default", "homestart"}
    assert seeded["homestart"]["rows"]["family"] == 12
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{governance_home / 'hs' / 'homestart.db'}")
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        files = conn.execute(sa.text('SELECT count(*) FROM "FamilyFile"')).scalar_one()
    assert {"Household", "FamilyFile", "VisitNote"} <= tables
    assert files == seeded["homestart"]["rows"]["case"]

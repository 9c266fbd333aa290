"""research_extracts, run by Airflow's own ``dag.test()``: one study through its whole life.

Run 1 (as of 2026-06-30) registers the demonstration study and builds its
extract; run 2 (2027-01-01, after the study's end) anonymises and destroys it
and issues the certificate; a study that cannot end is flagged overdue. On the
embedded default (SQLite, a local object folder) with a generated store.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

pytest.importorskip("airflow")

from governance.config import Settings  # noqa: E402
from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger  # noqa: E402
from governance.stores.seeding import open_objects, seed_store  # noqa: E402

pytestmark = pytest.mark.slow

DAG_ID = "research_extracts"
STUDY = "DEMO-EH-2026"


def _xcom_returns(dag_run) -> dict[tuple[str, int], Any]:
    """(task_id, map_index) -> returned value."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID, key="return_value")).all()
        return {(row.task_id, row.map_index): XComModel.deserialize_value(row) for row in rows}


def _states(dag_run) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id)
    with create_session() as session:
        return {(task_id, index): str(state) for task_id, index, state in session.execute(query)}


def _only_ids_and_counts(value: Any, path: str = "xcom") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _only_ids_and_counts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _only_ids_and_counts(item, f"{path}[{index}]")
    elif isinstance(value, str):
        assert " " not in value and len(value) <= 200, f"{path} looks like free text: {value[:40]!r}"


def test_one_study_through_its_life(airflow_db, dagbag, governance_home, caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env()
    seed_store(settings, "default", families=150, seed=7)
    dag = dagbag.dags[DAG_ID]

    with caplog.at_level(logging.INFO):
        built = dag.test(run_conf={"as_of": "2026-06-30", "demo_study": True})
    assert str(built.state) == "success", _states(built)
    returned = _xcom_returns(built)
    plan = returned[("plan_research", -1)]
    assert plan["registered"] == [STUDY] and plan["build"] == [STUDY] and plan["end"] == []
    extract = returned[("build_extract", 0)]
    assert extract["status"] == "released" and extract["rows"] > 0 and extract["k_failing_classes"] == 0
    assert returned[("flag_overdue_studies", -1)]["count"] == 0
    _only_ids_and_counts(returned)

    ended = dag.test(run_conf={"as_of": "2027-01-01"})
    assert str(ended.state) == "success", _states(ended)
    returned = _xcom_returns(ended)
    assert returned[("plan_research", -1)]["build"] == [] and returned[("plan_research", -1)]["end"] == [STUDY]
    certificate = returned[("end_study", 0)]
    assert certificate["outcome"] == "anonymised" and certificate["versions_remaining"] == 0
    assert certificate["key_id"] and certificate["objects_deleted"] >= 1
    _only_ids_and_counts(returned)

    body = json.loads(open_objects(settings).get(certificate["certificate_key"]))
    assert body["anonymised_output"]["cells"] > 0 and body["key"]["destroyed"] is True
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        assert ledger.verify().ok
        actions = [e.action for e in ledger.entries()]
    assert actions[-5:] == ["research.extract_released", "research.extract_anonymised", "research.extract_destroyed",
                            "research.key_destroyed", "research.study_ended"][-5:]
    # Nothing personal in the logs: no pseudonym, no raw person id.
    assert "P0000" not in caplog.text


def test_a_study_whose_end_fails_is_flagged_overdue(airflow_db, dagbag, governance_home, monkeypatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings.from_env()
    seed_store(settings, "default", families=20, seed=3)
    dag = dagbag.dags[DAG_ID]
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 0)
    assert str(dag.test(run_conf={"as_of": "2026-06-30", "demo_study": True}).state) == "success"  # withheld: small
    # The object store becomes unusable: the end action fails, the study is flagged.
    monkeypatch.setenv("AIRFLOW_CONN_GOVERNANCE_OBJECTS", "s3://nobody/objects?endpoint_url=http%3A%2F%2F127.0.0.1%3A9")
    with caplog.at_level(logging.WARNING, logger="governance.alerts"):
        run = dag.test(run_conf={"as_of": "2027-01-05"})
    states = _states(run)
    assert states[("end_study", 0)] == "failed" and states[("flag_overdue_studies", -1)] == "success"
    overdue = _xcom_returns(run)[("flag_overdue_studies", -1)]
    assert overdue["overdue"][0]["study_id"] == STUDY and overdue["overdue"][0]["days_overdue"] == 5
    assert f"GOVERNANCE RESEARCH STUDY OVERDUE study_id={STUDY} end_on=2026-12-31 days_overdue=5" in caplog.text
    assert "GOVERNANCE TASK FAILED" in caplog.text


def test_without_a_date_the_run_acts_for_its_own_date(airflow_db, dagbag, governance_home) -> None:
    # The params' defaults, as a scheduled run has them (dag.test() keeps an earlier test's conf otherwise).
    run = dagbag.dags[DAG_ID].test(run_conf={"as_of": None, "demo_study": False})
    assert str(run.state) == "success", _states(run)
    plan = _xcom_returns(run)[("plan_research", -1)]
    assert plan["as_of"] == run.run_after.date().isoformat() and plan["build"] == plan["end"] == []

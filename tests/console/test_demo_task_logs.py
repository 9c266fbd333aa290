"""The demo's task logs are readable in Airflow's UI (not "Log file not found").

One small governance DAG is run exactly as the main job runs its DAGs
(``scripts/main_job.py``: ``airflow dags test`` in a subprocess, its output
saved, then ``file_task_logs``), on this test session's Airflow home and
metadata database; the task's log is then read through Airflow's own REST API
(``GET .../taskInstances/{task_id}/logs/{try}``, the call behind the UI's log
tab), which must hold the task's lines and its readable summary.
"""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.filterwarnings("ignore")

REPO = Path(__file__).resolve().parents[2]
PROBE_DAG = '''
from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG


def count_due():
    print("counting the cases due (printed)")
    return {"due": 3, "batch_id": "B-probe-2026-06-30"}


def notify():
    print("told the IG team (printed); nothing returned")


with DAG("task_log_probe", start_date=datetime(2026, 1, 1), schedule=None,
         default_args={"owner": "information-governance"}):
    PythonOperator(task_id="count_due", python_callable=count_due) >> PythonOperator(task_id="notify",
                                                                                    python_callable=notify)
'''


def _log_through_rest_api(dag_id: str, run_id: str, task_id: str, try_number: int) -> list[dict]:
    from fastapi.testclient import TestClient

    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    client = TestClient(create_app(apps="core"))
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="auditor.one", role="viewer"))
    response = client.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
                          headers={"Authorization": f"Bearer {token}", "Accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["content"]


def test_a_dags_test_run_has_its_task_log_in_the_ui(airflow_metadata: str, tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO / "scripts"))
    from airflow_env import airflow_env
    from main_job import file_task_logs, run_dag_test

    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "task_log_probe.py").write_text(textwrap.dedent(PROBE_DAG))
    env = airflow_env(REPO, tmp_path / "var")
    # This session's Airflow (home, metadata database, hence log folder), as the API server read below.
    env.update({"AIRFLOW_HOME": os.environ["AIRFLOW_HOME"], "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_metadata,
                "AIRFLOW__CORE__DAGS_FOLDER": str(dags)})
    output = tmp_path / "01-task_log_probe.log"
    airflow = str(Path(sys.executable).parent / "airflow")

    ran = run_dag_test(airflow, "task_log_probe", {}, env, output)
    assert ran.returncode == 0, output.read_text()[-2000:]
    filed = file_task_logs([output], env)
    assert filed.returncode == 0, filed.stderr
    assert "task logs: 2 task instance(s) of 1 run(s)" in filed.stdout

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id="task_log_probe").order_by(DagRun.id.desc()).first()
        ti = session.query(TaskInstance).filter_by(dag_id="task_log_probe", run_id=run.run_id, task_id="count_due").one()
        run_id, try_number = run.run_id, ti.try_number
    content = _log_through_rest_api("task_log_probe", run_id, "count_due", try_number)
    events = [entry.get("event", "") for entry in content]
    text = "\n".join(events)
    assert "Log file not found" not in text and "Could not read served logs" not in text, text[:2000]
    summary = next(e for e in events if e.startswith("governance summary of count_due:"))
    assert "batch_id: B-probe-2026-06-30" in summary and "due: 3" in summary
    assert "counting the cases due (printed)" in events
    # Records as a worker writes them: the reader sees their level and time, not raw text.
    done = next(entry for entry in content if str(entry.get("event", "")).startswith("Done. Returned value was"))
    assert done.get("level") == "info" and done.get("timestamp")
    # A task that returns nothing: no summary, and no error line about the XCom it never pushed.
    quiet = _log_through_rest_api("task_log_probe", run_id, "notify", try_number)
    quiet_text = "\n".join(str(entry.get("event", "")) for entry in quiet)
    assert "nothing returned" in quiet_text, quiet_text[:2000]
    assert "XCom not found" not in quiet_text and "governance summary of notify" not in quiet_text, quiet_text[:3000]
    assert not [e for e in quiet if e.get("level") in ("error", "critical")], quiet_text[:3000]

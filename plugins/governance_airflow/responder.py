"""Answer Airflow human-in-the-loop forms as a named user, through Airflow's own REST API.

For tests and the demo only: a real reviewer answers in the Required Actions
page. ``dag.test()`` (and ``airflow dags test``) park a human-in-the-loop task
in ``awaiting_input`` until a response recorded from outside resumes it
(apache/airflow#68492). The Required Actions page calls the Core API's
``PATCH .../hitlDetails``; :class:`Responder` does the same from a background
thread: it polls the metadata database for waiting forms and answers each one
over HTTP (FastAPI's test client on Airflow's own app), authenticated as a
named reviewer, so the response carries a real ``responded_by_user`` and the
resume goes through Airflow's own handler.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

__all__ = ["Responder"]

Answer = Callable[[dict[str, Any]], tuple[list[str], dict[str, Any]] | None]


class Responder:
    """Answer every pending form of ``dag_id`` with ``answer(detail)`` as user ``reviewer``."""

    def __init__(self, dag_id: str, reviewer: str, answer: Answer) -> None:
        self.dag_id = dag_id
        self.reviewer = reviewer
        self.answer = answer
        self.answered: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hitl-responder", daemon=True)

    def __enter__(self) -> "Responder":
        from fastapi.testclient import TestClient

        from airflow.api_fastapi.app import create_app, get_auth_manager
        from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

        app = create_app(apps="core")
        self._token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username=self.reviewer, role="admin"))
        self._client = TestClient(app)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _pending(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from airflow.models.hitl import HITLDetail
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        query = (select(TaskInstance.dag_id, TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index,
                        HITLDetail.subject, HITLDetail.body, HITLDetail.options)
                 .join(HITLDetail, HITLDetail.ti_id == TaskInstance.id)
                 .where(TaskInstance.dag_id == self.dag_id, HITLDetail.responded_at.is_(None),
                        TaskInstance.state == "awaiting_input"))
        with create_session() as session:
            return [dict(row._mapping) for row in session.execute(query)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                for detail in self._pending():
                    decided = self.answer(detail)
                    if decided is None:
                        continue
                    options, params = decided
                    url = (f"/api/v2/dags/{detail['dag_id']}/dagRuns/{detail['run_id']}/taskInstances/"
                           f"{detail['task_id']}/{detail['map_index']}/hitlDetails")
                    response = self._client.patch(url, json={"chosen_options": options, "params_input": params},
                                                  headers={"Authorization": f"Bearer {self._token}"})
                    if response.status_code != 200:
                        self.errors.append(f"{response.status_code}: {response.text[:300]}")
                    self.answered.append({**detail, "chosen": options})
            except Exception as exc:  # noqa: BLE001 - reported by the test, never swallowed silently
                self.errors.append(repr(exc)[:300])
            time.sleep(0.5)

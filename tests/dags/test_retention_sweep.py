"""retention_sweep under Airflow's own dag.test(): nothing due, approve, reject, the two-person rule, as-of.

The review step is the standard provider's ApprovalOperator. A named reviewer
answers it the way the Required Actions page does, through Airflow's own REST
API (:class:`tests.hitl_responder.Responder`).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

pytest.importorskip("airflow")

from governance.config import Settings  # noqa: E402
from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger  # noqa: E402
from governance.retention import tables  # noqa: E402
from governance.state import state_engine  # noqa: E402
from governance.stores.seeding import open_objects, seed_store  # noqa: E402
from governance.stores.store import CaseStore  # noqa: E402
from governance_airflow.responder import Responder  # noqa: E402

pytestmark = pytest.mark.slow
DAG_ID = "retention_sweep"
AS_OF = "2026-06-30"


def _states(dag_run) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.execute(sa.select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state)
                               .where(TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id)).all()
    states: dict[str, str] = {}
    for task_id, map_index, state in rows:
        key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        states[key] = str(state)
    return states


def _run(dagbag, conf, option: str | None = None, reviewer: str = "ig.bob", reason: str | None = None):
    """Run the DAG; if ``option`` is given, ``reviewer`` answers the review with it (and ``reason``)."""
    dag = dagbag.dags[DAG_ID]
    if option is None:
        return dag.test(run_conf=conf), None
    with Responder(DAG_ID, reviewer, lambda detail: ([option], {"reason": reason})) as responder:
        dag_run = dag.test(run_conf=conf)
    assert not responder.errors, responder.errors
    return dag_run, responder


def _batch(settings) -> dict | None:
    with state_engine(settings).connect() as conn:
        row = conn.execute(sa.select(tables.batches)).first()
    return dict(row._mapping) if row else None


def _validated(settings) -> None:
    """A passing data-quality run of the store: the sweep's quality gate wants one."""
    from governance.jobs.quality import validate_store

    # A store of a few generated families is mostly defects by design: the share gate is off here.
    assert validate_store(settings, store="default", as_of=AS_OF, run_id="test-quality", publish=False,
                          max_quarantined_share=1.0)["passed"]


def test_without_a_passing_quality_run_no_batch_is_made(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=10, seed=4)
    dag_run, _ = _run(dagbag, {"as_of": AS_OF})
    states = _states(dag_run)
    assert states["propose"] == "failed" and str(dag_run.state) == "failed", states  # at once, not retried
    assert states["apply_decision"] == "upstream_failed", states
    assert _batch(settings) is None


def test_nothing_due_ends_green(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=10, seed=4)
    _validated(settings)
    dag_run, _ = _run(dagbag, {"as_of": "2011-01-01"})  # before any case could be due
    states = _states(dag_run)
    assert str(dag_run.state) == "success", states
    assert states["propose"] == "success" and states["review_batch"] == "skipped"
    assert _batch(settings) is None


def test_approved_sweep_destroys_verifies_and_certifies(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=40, seed=4)
    _validated(settings)
    store = CaseStore.open(settings.store("default"))
    before = store.counts()["case"]
    dag_run, responder = _run(dagbag, {"as_of": AS_OF}, "Approve", "ig.bob")
    states = _states(dag_run)
    assert len(responder.answered) == 1 and str(dag_run.state) == "success", states
    review = responder.answered[0]
    assert "cases" in review["body"] and "early_help" in review["body"]  # counts per class for the reviewer
    batch = _batch(settings)
    assert batch["status"] == "verified" and batch["approved_by"] == "airflow:ig.bob"
    # The creator is the user who triggered the run (dag.test() triggers as "dag_test"), not the service account.
    assert batch["created_by"] == "airflow:dag_test"
    assert "| destroy |" in review["body"] and "Not due yet" in review["body"]  # the action column is filled
    assert states["rejected"] == "skipped" and states["certificate"] == "success", states
    destroyed = store.counts()["case"]
    assert 0 < before - destroyed and states.get("execute_chunk[0]") == "success"
    key = batch["certificate_uri"].split("/objects/", 1)[1]
    assert open_objects(settings).get(key).startswith(b"{")
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        assert ledger.verify().ok
        actions = [e.action for e in ledger.entries()]
    finally:
        ledger.close()
    assert "retention.batch.approved" in actions and "retention.certificate.issued" in actions


def test_rejected_batch_destroys_nothing_and_is_recorded(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=20, seed=5)
    _validated(settings)
    store = CaseStore.open(settings.store("default"))
    before = store.counts()
    reason = "Two of these families have complaints open with the ombudsman"
    dag_run, responder = _run(dagbag, {"as_of": AS_OF}, "Reject", "ig.carol", reason)
    states = _states(dag_run)
    assert len(responder.answered) == 1 and str(dag_run.state) == "success", states
    # A rejected run ends at `rejected`, every destruction task skipped: it does not look like a destruction run.
    assert states["apply_decision"] == "success" and states["rejected"] == "success", states
    assert states["chunks"] == "skipped" and states["certificate"] == "skipped", states
    assert "execute_chunk" not in "".join(k for k, v in states.items() if v == "success")
    batch = _batch(settings)
    assert batch["status"] == "rejected" and batch["approved_by"] == "airflow:ig.carol"  # who decided
    assert batch["decision_note"] == reason
    assert store.counts() == before
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        rejected = [e for e in ledger.entries() if e.action == "retention.batch.rejected"]
    finally:
        ledger.close()
    assert [(e.actor, e.reason) for e in rejected] == [("airflow:ig.carol", reason)]
    with state_engine(settings).connect() as conn:
        sticking = conn.execute(sa.select(sa.func.count()).select_from(tables.rejections)).scalar_one()
    assert sticking == batch_cases(settings, batch["batch_id"]) > 0  # each case stays out of later batches


def batch_cases(settings, batch_id: str) -> int:
    with state_engine(settings).connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(tables.batch_items)
                            .where(tables.batch_items.c.batch_id == batch_id)).scalar_one()


def test_the_user_who_triggered_the_run_cannot_approve_it(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=20, seed=5)
    _validated(settings)
    store = CaseStore.open(settings.store("default"))
    before = store.counts()
    # dag.test() triggers as "dag_test"; the same user answers the review.
    dag_run, responder = _run(dagbag, {"as_of": AS_OF}, "Approve", "dag_test")
    states = _states(dag_run)
    assert len(responder.answered) == 1 and states["apply_decision"] == "failed", states
    assert str(dag_run.state) == "failed" and states["certificate"] == "upstream_failed", states
    batch = _batch(settings)
    assert batch["status"] == "proposed" and batch["created_by"] == "airflow:dag_test"  # still awaiting a second person
    assert store.counts() == before


def test_a_run_judged_as_of_a_future_date_is_refused(airflow_db, dagbag, governance_home):
    settings = Settings.from_env()
    seed_store(settings, "default", families=10, seed=4)
    _validated(settings)
    store = CaseStore.open(settings.store("default"))
    before = store.counts()
    dag_run, _ = _run(dagbag, {"as_of": "2090-01-01"})
    states = _states(dag_run)
    assert states["propose"] == "failed" and str(dag_run.state) == "failed", states  # at once, not retried
    assert _batch(settings) is None and store.counts() == before

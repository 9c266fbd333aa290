"""subject_access and subject_access_deadlines, run by Airflow's own ``dag.test()``.

The review is answered the way a reviewer answers it: through Airflow's Core
REST API (``PATCH .../hitlDetails``), authenticated as a named reviewer, from a
background thread while ``dag.test()`` waits (see tests/sar/hitl.py).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("airflow")

import sqlalchemy as sa  # noqa: E402

from governance.config import Settings  # noqa: E402
from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger  # noqa: E402
from governance.sar.package import open_package  # noqa: E402
from governance.sar.tables import disclosures, requests  # noqa: E402
from governance.state import state_engine  # noqa: E402
from governance.stores.seeding import open_objects, seed_store  # noqa: E402
from governance.stores.store import open_store  # noqa: E402
from governance_airflow.responder import Responder  # noqa: E402

# The test JWT secret Airflow generates is short; irrelevant to what is tested here.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")]

DAG_ID = "subject_access"
SUBJECT = "P000000000"  # the first child of the first generated family


def _states(dag_run) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    query = sa.select(TaskInstance.task_id, TaskInstance.state).where(
        TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
    with create_session() as session:
        return {task_id: str(state) for task_id, state in session.execute(query)}


def _xcoms(dag_run) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=dag_run.dag_id)).all()
        return {f"{row.task_id}.{row.key}": XComModel.deserialize_value(row) for row in rows}


def _seeded() -> tuple[Settings, list[str]]:
    """Seed the default store; return settings and canaries: names and note words that must stay out of XCom."""
    settings = Settings.from_env()
    seed_store(settings, families=12, seed=7)
    store = open_store(settings.store("default"))
    with store.engine.connect() as conn:
        people = conn.execute(store.select("person", ["given_name", "family_name", "phone"])
                              .where(store.raw("person", "family_id") == "F0000000")).mappings().all()
        note = conn.execute(store.select("casenote", ["body"]).where(store.raw("casenote", "case_id") == "C00000000")
                            .limit(1)).scalar_one()
    canaries = [f"{p['given_name']} {p['family_name']}" for p in people] + [p["phone"] for p in people if p["phone"]]
    return settings, canaries + [note[:40]]


def _no_canaries(value: Any, canaries: list[str]) -> None:
    text = json.dumps(value, default=str)
    for canary in canaries:
        assert canary not in text, "personal data reached XCom"


def _answer(option: str, reason: str = "other"):
    def answer(detail: dict[str, Any]):
        # With Approve: the flagged notes nobody decided stay withheld, as the form listed them.
        return [option], {"send_back_reason": reason, "withhold_undecided_flagged_notes": option == "Approve"}
    return answer


def _form(dag, **filled: Any) -> dict[str, Any]:
    """What the trigger form submits: every field, empty ones as null, with ``filled`` typed in."""
    return {**{name: dag.params[name] for name in dag.params}, **filled}


# A self-request needs only these two fields (and the store, which defaults).
LODGE = {"subject_person_id": SUBJECT, "received_on": "2026-06-01"}


def test_request_is_lodged_reviewed_in_airflow_and_delivered(airflow_db, dagbag, governance_home, caplog) -> None:
    settings, canaries = _seeded()
    dag = dagbag.dags[DAG_ID]

    with caplog.at_level(logging.INFO), Responder(DAG_ID, "reviewer.alice", _answer("Approve")) as responder:
        dag_run = dag.test(run_conf=_form(dag, **LODGE))  # lodged from the form, as a self-request

    assert not responder.errors, responder.errors
    assert str(dag_run.state) == "success", _states(dag_run)
    assert _states(dag_run)["review_in_airflow"] == "success"
    assert len(responder.answered) == 1
    # The form showed counts per exemption code, and nothing personal.
    form = responder.answered[0]
    assert "SCH2-P16" in form["body"] and "exemption code" in form["body"]
    assert "needs a decision" in form["body"] and "third_party_information_flag" in form["body"]
    _no_canaries(form["body"], canaries)
    _no_canaries(form["subject"], canaries)

    xcoms = _xcoms(dag_run)
    _no_canaries(xcoms, canaries)
    request_id = xcoms["lodge_request.return_value"]["request_id"]
    delivered = xcoms["deliver.return_value"]
    assert delivered["status"] == "delivered"

    # The register: delivered (hold released), with the disclosure recorded.
    with state_engine(settings).connect() as conn:
        row = conn.execute(sa.select(requests).where(requests.c.request_id == request_id)).mappings().one()
        shared = conn.execute(sa.select(disclosures).where(disclosures.c.request_id == request_id)).mappings().one()
    assert row["status"] == "delivered" and row["closed_at"] is not None
    assert shared["records_included"] > 0

    # The reviewer's decision came from Airflow, with the reviewer's name; the ledger verifies.
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        entries = [e for e in ledger.entries() if request_id in e.record_ids]
        assert ledger.verify().ok
    finally:
        ledger.close()
    assert [e.action for e in entries] == ["sar.lodged", "sar.reviewed", "sar.disclosed"]
    assert entries[1].details["reviewer"] == "reviewer.alice" and entries[1].details["channel"] == "airflow"
    _no_canaries([e.to_dict() for e in entries], canaries)

    # The bundle decrypts with the key handed over apart, and its manifest verifies.
    key = bytes.fromhex(Path(delivered["key_file"]).read_text().splitlines()[-1])
    blob = open_objects(settings).get(shared["package_key"])
    files, manifest, problems = open_package(blob, key)
    assert problems == [] and manifest["request_id"] == request_id
    assert files["bundle.pdf"].startswith(b"%PDF")
    # Task logs carry no personal data either.
    _no_canaries(caplog.text, canaries)


def test_send_back_stops_before_the_bundle(airflow_db, dagbag, governance_home) -> None:
    settings, _ = _seeded()
    dag = dagbag.dags[DAG_ID]

    with Responder(DAG_ID, "reviewer.bob", _answer("Send back", "more_redaction_needed")) as responder:
        dag_run = dag.test(run_conf=_form(dag, **LODGE))

    assert not responder.errors, responder.errors
    assert str(dag_run.state) == "success", _states(dag_run)
    states = _states(dag_run)
    assert states["record_review"] == "success"
    assert states["build_bundle"] == states["deliver"] == "skipped"
    request_id = _xcoms(dag_run)["lodge_request.return_value"]["request_id"]
    with state_engine(settings).connect() as conn:
        status = conn.execute(sa.select(requests.c.status).where(requests.c.request_id == request_id)).scalar_one()
    assert status == "in_progress"  # still pending: the subject's cases stay held
    assert not open_objects(settings).exists(f"sar/{request_id}/bundle.enc")


def test_a_pack_approved_on_the_command_line_skips_the_form(airflow_db, dagbag, governance_home) -> None:
    from datetime import date

    from governance.jobs import sar as jobs

    settings, _ = _seeded()
    lodged = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                                actor="cli:test")
    request_id = lodged["request_id"]
    jobs.discover_request(settings, request_id)
    jobs.redact_request(settings, request_id)
    pack = jobs.prepare_review(settings, request_id)
    jobs.record_review(settings, request_id, decision="approved", reviewer="records.manager",
                       seen_hash=pack["pack_hash"], channel="cli", actor="cli:records.manager",
                       withhold_undecided=True)
    dag = dagbag.dags[DAG_ID]

    dag_run = dag.test(run_conf={"request_id": request_id})

    assert str(dag_run.state) == "success", _states(dag_run)
    states = _states(dag_run)
    assert states["review_in_airflow"] == "skipped"
    assert states["deliver"] == "success"
    assert _xcoms(dag_run)["deliver.return_value"]["request_id"] == request_id


def test_the_form_refuses_bad_input_before_the_run_or_in_its_first_task(airflow_db, dagbag, governance_home) -> None:
    from airflow.sdk.definitions.param import ParamValidationError

    dag = dagbag.dags[DAG_ID]
    # What the form's schema can say is refused before a run exists: a malformed date, an unknown kind.
    def validate(conf: dict[str, Any]) -> None:  # as the trigger endpoint does: params merged with conf, validated
        import copy

        params = copy.deepcopy(dag.params)
        params.update(conf)
        params.validate()

    for bad in ({"received_on": "01/06/2026"}, {"requester_kind": "neighbour"}, {"request_id": "SAR 1"}):
        with pytest.raises(ParamValidationError):
            validate(_form(dag, **{**LODGE, **bad}))
    validate(_form(dag, **LODGE))  # the self-request as typed: valid

    # What it cannot (a parent's request without the child's view) fails the first task once, in one line.
    dag_run = dag.test(run_conf=_form(dag, **LODGE, requester_kind="parent_carer", parent_basis="child_best_interest"))
    states = _states(dag_run)
    assert states["lodge_request"] == "failed" and states["discover"] == "upstream_failed"
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tries = session.scalar(sa.select(TaskInstance.try_number).where(
            TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id,
            TaskInstance.task_id == "lodge_request"))
    assert tries == 1  # no retries
    assert not (governance_home / "stores").exists()  # refused before the store was opened: nothing lodged


def test_daily_deadline_check_alerts_with_counts_only(airflow_db, dagbag, governance_home, caplog) -> None:
    from datetime import date

    from governance.jobs import sar as jobs

    settings, canaries = _seeded()
    # Received 3 June 2026: due 3 July 2026. Checked on 29 June: due within 7 days.
    jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 3), actor="t")
    jobs.lodge_request(settings, store="default", subject_person_id="P000000100", received_on=date(2026, 4, 1),
                       actor="t")  # due 1 May 2026: overdue
    dag = dagbag.dags["subject_access_deadlines"]

    with caplog.at_level(logging.WARNING, logger="governance.alerts"):
        dag_run = dag.test(run_conf={"as_of": "2026-06-29", "within_days": 7})

    assert str(dag_run.state) == "success", _states(dag_run)
    result = _xcoms(dag_run)["check_deadlines.return_value"]
    assert (result["pending"], result["due_soon"], result["overdue"]) == (2, 1, 1)
    alerts = [r.getMessage() for r in caplog.records if "GOVERNANCE SAR DEADLINES" in r.getMessage()]
    assert alerts == ["GOVERNANCE SAR DEADLINES as_of=2026-06-29 within_days=7 due_soon=1 overdue=1 pending=2"]
    _no_canaries(alerts, canaries)

"""data_quality, run by Airflow's own ``dag.test()``: checkpoints per store, quarantine, Assets, alerts.

The stores are seeded with the synthetic generator (as of 2026-06-30, the
generator's fixed date, which the runs pass as ``as_of``). The canary test
plants unique strings in names, an address, note text and in coded fields
that fail validation, and then looks for them everywhere a run writes:
Data Docs and the summary in object storage, Airflow's logs and metadata
database (XCom), captured log records and output, the failure alert and the
ledger/state database. None may appear.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("airflow")

from governance.config import Settings  # noqa: E402
from governance.quality import asset_uri  # noqa: E402
from governance.quality.quarantine import active_rows  # noqa: E402
from governance.state import state_engine  # noqa: E402
from governance.stores.seeding import seed_store  # noqa: E402
from governance.stores.store import open_store  # noqa: E402

pytestmark = pytest.mark.slow

DAG_ID = "data_quality"
AS_OF = "2026-06-30"


def _states(dag_run) -> dict[tuple[str, int], str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id)
    with create_session() as session:
        return {(t, m): str(s) for t, m, s in session.execute(query)}


def _map_names(dag_run) -> set[str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.rendered_map_index).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id, TaskInstance.task_id == "validate_store")
    with create_session() as session:
        return set(session.scalars(query))


def _xcoms(dag_run) -> list[tuple[str, int, str, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID)).all()
        return [(r.task_id, r.map_index, r.key, XComModel.deserialize_value(r)) for r in rows]


def _asset_events(dag_run) -> dict[str, dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(AssetModel.uri, AssetModel.name, AssetEvent.extra).join(AssetEvent, AssetEvent.asset_id == AssetModel.id).where(
        AssetEvent.source_run_id == dag_run.run_id, AssetEvent.source_dag_id == DAG_ID)
    with create_session() as session:
        return {uri: {"name": name, "extra": extra} for uri, name, extra in session.execute(query)}


def _no_retries(dag, monkeypatch) -> None:
    for task in dag.tasks:
        monkeypatch.setattr(task, "retries", 0)


def test_validates_every_store_quarantines_and_publishes_assets(airflow_db, dagbag, governance_home, monkeypatch) -> None:
    monkeypatch.setenv("GOVERNANCE_STORES", "default,homestart")
    monkeypatch.setenv("GOVERNANCE_STORE_HOMESTART_MAPPING", "homestart")
    settings = Settings.from_env()
    seeded = {name: seed_store(settings, name, families=200, seed=11) for name in ("default", "homestart")}
    dag = dagbag.dags[DAG_ID]

    dag_run = dag.test(run_conf={"as_of": AS_OF})

    assert str(dag_run.state) == "success", _states(dag_run)
    returned = {v["store"]: v for t, _, k, v in _xcoms(dag_run) if t == "validate_store" and k == "return_value"}
    assert set(returned) == {"default", "homestart"}
    assert _map_names(dag_run) == {"default", "homestart"}  # the mapped tasks are named by store in the UI
    for name, summary in returned.items():
        assert summary["passed"] is True and summary["as_of"] == AS_OF and summary["run_id"] == dag_run.run_id
        assert summary["counts"]["rules_failed"] == 13 and summary["counts"]["rules_errored"] == 0
        rows = active_rows(state_engine(settings), name)
        assert len({(r["record_id"], r["expectation"]) for r in rows}) == summary["counts"]["quarantined_active"] > 0
        index = Path(summary["data_docs_uri"].removeprefix("file://"))
        assert index.is_file() and index.is_relative_to(settings.home / "objects" / "quality" / name)
        assert sum(seeded[name]["problems"].values()) > 0
    assert len(returned["homestart"]["skipped_rules"]) == 8 and returned["default"]["skipped_rules"] == []
    # One Asset per store that passed, named by its URI, carrying counts.
    events = _asset_events(dag_run)
    assert set(events) == {asset_uri("default"), asset_uri("homestart")}
    assert events[asset_uri("default")]["name"] == asset_uri("default")
    assert events[asset_uri("default")]["extra"]["as_of"] == AS_OF
    assert events[asset_uri("default")]["extra"]["quarantined_active"] == returned["default"]["counts"]["quarantined_active"]
    for value in returned.values():
        _assert_only_ids_and_counts(value)


def _assert_only_ids_and_counts(value: Any, path: str = "xcom") -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _assert_only_ids_and_counts(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _assert_only_ids_and_counts(item, f"{path}[{index}]")
    elif isinstance(value, str):
        assert " " not in value and len(value) <= 300, f"{path} looks like free text: {value[:40]!r}"


def _plant_canaries(settings: Settings) -> dict[str, str]:
    """Rows carrying unique strings, built to fail rules (values in coded fields included)."""
    import sqlalchemy as sa

    token = uuid.uuid4().hex[:12]
    canaries = {field: f"Canary{field.title().replace('_', '')}{token}" for field in (
        "given_name", "family_name", "address", "note_title", "note_body", "role", "agency", "information", "recipient")}
    store = open_store(settings.store("default"))
    with store.engine.begin() as conn:
        case_id = conn.execute(sa.select(store.raw("case", "id")).limit(1)).scalar_one()
        family_id = conn.execute(sa.select(store.raw("family", "id")).limit(1)).scalar_one()
        consent_id = conn.execute(sa.select(store.raw("consent", "id")).limit(1)).scalar_one()
        store.insert(conn, "person", [{
            "id": "PCANARY1", "family_id": family_id, "role": canaries["role"], "given_name": canaries["given_name"],
            "family_name": canaries["family_name"], "address": canaries["address"], "date_of_birth": date(1900, 1, 1)}])
        store.insert(conn, "case_member", [{"id": "MCANARY1", "case_id": case_id, "person_id": "PCANARY1", "role": "subject_child"}])
        store.insert(conn, "casenote", [{
            "id": "NCANARY1", "case_id": "CMISSING1", "written_on": date(2027, 1, 1), "title": canaries["note_title"],
            "body": f"{canaries['note_body']} spoke to {canaries['given_name']} at {canaries['address']}"}])
        store.insert(conn, "consent_opt_out", [{"id": "KCANARY1", "consent_id": consent_id, "agency": canaries["agency"]}])
        store.insert(conn, "sharing_record", [{
            "id": "SCANARY1", "case_id": case_id, "shared_on": date(2026, 1, 5), "information": canaries["information"],
            "recipient_agency": canaries["recipient"], "purpose": "safeguarding", "decision": "shared"}])
    store.engine.dispose()
    return canaries


def _text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8", errors="replace")


def test_canaries_never_reach_docs_logs_xcom_alerts_or_ledger(
    airflow_db, dagbag, governance_home, monkeypatch, caplog, capfd
) -> None:
    settings = Settings.from_env()
    seed_store(settings, "default", families=200, seed=11)
    canaries = _plant_canaries(settings)
    dag = dagbag.dags[DAG_ID]
    _no_retries(dag, monkeypatch)

    with caplog.at_level(logging.DEBUG):
        passed = dag.test(run_conf={"as_of": AS_OF})
        failed = dag.test(run_conf={"as_of": AS_OF, "max_quarantined_share": 0.0001})

    # The canary rows failed rules and were quarantined: validation did read them.
    assert str(passed.state) == "success", _states(passed)
    quarantined = {r["record_id"]: r["expectation"] for r in active_rows(state_engine(settings), "default")}
    assert {"PCANARY1", "NCANARY1", "KCANARY1", "SCANARY1"} <= set(quarantined)
    assert asset_uri("default") in _asset_events(passed)
    # The second run fails its gate: red, one alert with counts, no Asset.
    assert str(failed.state) == "failed"
    assert _states(failed)[("validate_store", 0)] == "failed"
    alerts = [r.getMessage() for r in caplog.records if "GOVERNANCE TASK FAILED" in r.getMessage()]
    assert len(alerts) == 1 and "task_id=validate_store" in alerts[0] and "error=QualityGateError" in alerts[0]
    assert "counts:" in alerts[0] and "quarantined_active=" in alerts[0]
    assert _asset_events(failed) == {}

    # GX's own log lines (import chatter, SQL in metric errors) stay out of the task logs.
    assert [r.name for r in caplog.records if r.name.startswith("great_expectations")] == []
    captured = capfd.readouterr()
    places = {
        "captured logs": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
        "stdout/stderr": captured.out + captured.err,
        "xcom": json.dumps([_xcoms(passed), _xcoms(failed)], default=str),
    }
    objects = settings.home / "objects" / "quality"
    places.update({str(p): _text_of(p) for p in objects.rglob("*") if p.is_file()})
    assert any(p.endswith("index.html") for p in places)
    airflow_home = Path(__import__("os").environ["AIRFLOW_HOME"])
    places.update({str(p): _text_of(p) for p in airflow_home.rglob("*") if p.is_file() and p.suffix != ".pyc"})
    places.update({str(p): _text_of(p) for p in settings.home.glob("*.db*") if p.is_file()})  # ledger and state
    assert len(places) > 10
    for place, text in places.items():
        found = [name for name, canary in canaries.items() if canary in text]
        assert found == [], f"{place} contains canaries {found}"
    # Positive control: the search does find them where they are, in the case store.
    store_text = "".join(_text_of(p) for p in (settings.home / "stores").glob("default.db*"))
    assert all(canary in store_text for canary in canaries.values())

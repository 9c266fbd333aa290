"""sharing_compliance, run by Airflow's own ``dag.test()`` over two stores with different mappings.

The stores are generated first (400 families each: every violation kind twice),
then the DAG runs as of the generator's as-of date. It must find exactly the
manifest's records, write one ledger entry per store, alert with counts only,
and leave a finding resolved with a note resolved on the next run.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

pytest.importorskip("airflow")

from governance.config import Settings  # noqa: E402
from governance.keys import KeyStore  # noqa: E402
from governance.ledger import Ledger  # noqa: E402
from governance.sharing.compliance import ACTION  # noqa: E402
from governance.sharing.findings import list_findings, resolve_finding  # noqa: E402
from governance.state import state_engine  # noqa: E402
from governance.stores.seeding import read_manifest, seed_store  # noqa: E402
from governance.stores.store import open_store  # noqa: E402
from governance.stores.synthetic.plan import VIOLATION_KINDS  # noqa: E402

pytestmark = pytest.mark.slow

DAG_ID = "sharing_compliance"
FAMILIES, SEED, AS_OF = 400, 11, "2026-06-30"


def _states(dag_run) -> dict[str, str]:
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    query = select(TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state).where(
        TaskInstance.dag_id == DAG_ID, TaskInstance.run_id == dag_run.run_id)
    with create_session() as session:
        return {f"{task_id}[{index}]": str(state) for task_id, index, state in session.execute(query)}


def _xcoms(dag_run) -> list[tuple[str, int, Any]]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=dag_run.run_id, dag_ids=DAG_ID, key="return_value")).all()
        return [(row.task_id, row.map_index, XComModel.deserialize_value(row)) for row in rows]


def _expected_keys(manifest: dict) -> list[str]:
    kinds = {kind: kind for kind in VIOLATION_KINDS}
    kinds["sharing_without_lawful_basis"] = "shared_without_lawful_basis"
    return sorted(f"{rule}:{rid}" for kind, rule in kinds.items() for rid in manifest["problems"].get(kind, []))


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [str(k), *_strings(v)]]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.fixture
def two_stores(governance_home, monkeypatch) -> dict[str, dict]:
    monkeypatch.setenv("GOVERNANCE_STORES", "default,homestart")
    monkeypatch.setenv("GOVERNANCE_STORE_HOMESTART_URL", f"sqlite:///{governance_home / 'stores' / 'homestart.db'}")
    monkeypatch.setenv("GOVERNANCE_STORE_HOMESTART_MAPPING", "homestart")
    settings = Settings.from_env()
    manifests = {}
    for name in ("default", "homestart"):
        seed_store(settings, name, families=FAMILIES, seed=SEED)
        manifests[name] = read_manifest(open_store(settings.store(name)))
    return manifests


def test_runs_green_and_finds_exactly_the_seeded_violations(airflow_db, dagbag, two_stores, caplog) -> None:
    dag = dagbag.dags[DAG_ID]
    with caplog.at_level(logging.INFO, logger="governance.alerts"):
        dag_run = dag.test(run_conf={"as_of": AS_OF})

    states = _states(dag_run)
    assert str(dag_run.state) == "success", states
    assert set(states.values()) == {"success"} and len(states) == 4  # list, two mapped checks, alert
    settings = Settings.from_env()
    with state_engine(settings).connect() as conn:
        found = {name: sorted(f["finding_key"] for f in list_findings(conn, store=name)) for name in two_stores}
    for name, manifest in two_stores.items():
        assert found[name] == _expected_keys(manifest), name
    assert not any(k.startswith("missing_privacy_notice") for k in found["homestart"])
    assert any(k.startswith("missing_privacy_notice") for k in found["default"])

    # One ledger entry per store, keys as record ids; the ledger verifies.
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        assert ledger.verify().ok
        entries = {e.store: e for e in ledger.entries() if e.action == ACTION}
    assert {name: sorted(e.record_ids) for name, e in entries.items()} == found
    assert {e.details["run_id"] for e in entries.values()} == {dag_run.run_id}

    # XCom: counts, codes and ids only; the alert task's totals add up.
    xcoms = _xcoms(dag_run)
    alert = next(value for task, _, value in xcoms if task == "alert_ig_team")
    total = sum(len(keys) for keys in found.values())
    assert alert == {"stores": 2, "stores_with_open_findings": 2, "open": total, "new": total}
    assert sorted(next(v for t, _, v in xcoms if t == "list_stores")) == ["default", "homestart"]
    assert all(" " not in s and len(s) <= 200 for _, _, value in xcoms for s in _strings(value))

    # The IG alert: one line per store, counts only, no personal data.
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SHARING COMPLIANCE")]
    assert len(lines) == 2, caplog.text[-2000:]
    for name in two_stores:
        [line] = [x for x in lines if f"store={name} " in x]
        assert f"open_total={len(found[name])}" in line and "share_after_withdrawal=2" in line
    names = _person_names(settings)
    assert not [n for n in names if n in caplog.text]


def _person_names(settings: Settings) -> set[str]:
    import sqlalchemy as sa

    out = set()
    for config in settings.stores:
        store = open_store(config)
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(store.raw("person", "given_name"), store.raw("person", "family_name")))
            out |= {n for row in rows for n in row if n and len(n) > 3}
    return out


def test_a_finding_resolved_with_a_note_stays_resolved(airflow_db, dagbag, two_stores, caplog) -> None:
    from datetime import datetime, timezone

    dag = dagbag.dags[DAG_ID]
    first = dag.test(run_conf={"as_of": AS_OF})
    assert str(first.state) == "success", _states(first)
    settings = Settings.from_env()
    key = _expected_keys(two_stores["default"])[0]
    with state_engine(settings).begin() as conn:
        resolve_finding(conn, store="default", finding_key=key, by="ig.officer", note="reviewed", at=datetime.now(timezone.utc))

    with caplog.at_level(logging.INFO, logger="governance.alerts"):
        second = dag.test(run_conf={"as_of": AS_OF})

    assert str(second.state) == "success", _states(second)
    with state_engine(settings).connect() as conn:
        rows = {f["finding_key"]: f for f in list_findings(conn, store="default")}
    assert rows[key]["status"] == "resolved" and rows[key]["last_seen_run"] == second.run_id
    assert sum(1 for f in rows.values() if f["status"] == "open") == len(rows) - 1
    [line] = [r.getMessage() for r in caplog.records
              if "SHARING COMPLIANCE store=default " in r.getMessage() and f"run_id={second.run_id} " in r.getMessage()]
    assert f"open_total={len(rows) - 1}" in line and "new=0" in line

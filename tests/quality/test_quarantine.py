"""Quarantine round trip: failing records in, the ledger told, repaired records released.

Runs the whole store job (:func:`governance.quality.service.run_store`) on a
generated store, on SQLite and PostgreSQL (where the ledger and state tables
share the PostgreSQL database, so quarantine rows and ledger entries commit
in one transaction), then repairs every defect in the store and runs again.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from expectations import DEFECT_RULES
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.quality.options import QualityOptions
from governance.quality.quarantine import QUARANTINED, RELEASED, active_quarantine_case_ids, active_rows, sync
from governance.quality.report import ERROR, FAILED, QualityReport, RuleOutcome
from governance.quality.service import gate_message, run_store
from governance.quality.tables import quarantine
from governance.state import state_engine
from governance.stores.synthetic.plan import DEFECT_KINDS
from governance.unit import Unit
from tests.quality.conftest import AS_OF, AT

pytestmark = pytest.mark.slow

QUARANTINING = [k for k in DEFECT_KINDS if k != "dormant_open_case"]


def _ledger(settings) -> list:
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        assert ledger.verify().ok
        return [e for e in ledger.entries() if e.action.startswith("quality.")]
    finally:
        ledger.close()


def _case_of(store, entity: str, record_id: str) -> set:
    """The cases a record belongs to, read independently of the quarantine code."""
    with store.engine.connect() as conn:
        if entity == "person":
            query = sa.select(store.raw("case_member", "case_id")).where(store.raw("case_member", "person_id") == record_id)
            return set(conn.execute(query).scalars()) or {None}
        if entity == "case":
            return {record_id}
        if entity == "consent_opt_out":
            consent_id = conn.execute(sa.select(store.raw("consent_opt_out", "consent_id")).where(
                store.raw("consent_opt_out", "id") == record_id)).scalar_one()
            return {conn.execute(sa.select(store.raw("consent", "case_id")).where(store.raw("consent", "id") == consent_id)).scalar_one()}
        return {conn.execute(sa.select(store.raw(entity, "case_id")).where(store.raw(entity, "id") == record_id)).scalar_one()}


def _repair(store, problems: dict) -> None:
    """Correct every injected defect in the store, the way a records officer would."""
    def update(conn, entity, record_id, **values):
        conn.execute(store.table(entity).update().where(store.raw(entity, "id") == record_id)
                     .values({store.raw(entity, k).name: store.encode(entity, k, v) for k, v in values.items()}))

    def delete(conn, entity, record_id):
        conn.execute(store.table(entity).delete().where(store.raw(entity, "id") == record_id))

    with store.engine.begin() as conn:
        for case_id in problems["missing_closure_date"] + problems["closure_before_opening"] + problems["future_closure_date"]:
            opened = conn.execute(sa.select(store.raw("case", "opened_on")).where(store.raw("case", "id") == case_id)).scalar_one()
            update(conn, "case", case_id, closed_on=opened)
        for case_id in problems["closed_without_reason"]:
            update(conn, "case", case_id, closure_reason="support completed")
        for note_id in problems["future_casenote_date"]:
            update(conn, "casenote", note_id, written_on=AS_OF)
        for person_id in problems["implausible_birth_date"]:
            update(conn, "person", person_id, date_of_birth=None)
        for entity, kind in (("casenote", "orphan_casenote"), ("case_member", "orphan_membership"), ("document", "orphan_document")):
            for record_id in problems[kind]:
                delete(conn, entity, record_id)
        for doc_id in problems["third_party_document_missing_consent"]:
            update(conn, "document", doc_id, author_consent="not_sought")
        for opt_id in problems["unknown_opt_out_agency"]:
            update(conn, "consent_opt_out", opt_id, agency="health")
        for share_id in problems["sharing_without_lawful_basis"]:
            update(conn, "sharing_record", share_id, lawful_basis="legal_duty")


def test_quarantine_then_release_round_trip(make_store, settings_for, db_url: str) -> None:
    store, manifest = make_store("reference", families=300, seed=11)
    settings = settings_for(db_url, ledger_url=db_url if db_url.startswith("postgresql") else None)
    options = QualityOptions(as_of=AS_OF)

    first = run_store(settings, "default", options, run_id="run-1", actor="test", at=AT, publish=False)

    assert first["passed"] and first["gate"] == []
    state = state_engine(settings)
    rows = active_rows(state, "default")
    by_rule: dict[str, set] = {}
    for row in rows:
        by_rule.setdefault(row["expectation"], set()).add(row["record_id"])
        assert row["quarantined_run"] == "run-1" and row["released_at"] is None
    assert by_rule == {DEFECT_RULES[k]: set(manifest.problems[k]) for k in QUARANTINING}
    # Each record carries the case(s) it belongs to: a person one row per case.
    for row in rows:
        assert row["case_id"] in _case_of(store, row["entity"], row["record_id"])
    for person_id in manifest.problems["implausible_birth_date"]:
        cases = {r["case_id"] for r in rows if r["record_id"] == person_id}
        assert cases == _case_of(store, "person", person_id) and len(cases) >= 1
    # Dormant open cases are reported, not quarantined.
    assert not set(manifest.problems["dormant_open_case"]) & {r["record_id"] for r in rows}
    assert first["counts"]["findings"] == len(manifest.problems["dormant_open_case"])
    held = active_quarantine_case_ids(state, store)
    assert held == {r["case_id"] for r in rows if r["case_id"]} and held == active_quarantine_case_ids(state, "default")
    # The ledger names the records, per rule, with counts; no values.
    entries = _ledger(settings)
    assert {e.rule: set(e.record_ids) for e in entries if e.action == QUARANTINED} == by_rule
    assert all(e.counts["records"] == len(e.record_ids) and e.details["run_id"] == "run-1" for e in entries)

    # A retry of the same run changes nothing.
    again = run_store(settings, "default", options, run_id="run-1", actor="test", at=AT, publish=False)
    assert again["counts"]["quarantined_new"] == 0 and again["counts"]["released"] == 0
    assert len(_ledger(settings)) == len(entries)

    _repair(store, manifest.problems)
    later = AT + timedelta(days=1)
    second = run_store(settings, "default", options, run_id="run-2", actor="test", at=later, publish=False)

    assert second["counts"]["released"] == len({(r["record_id"], r["expectation"]) for r in rows})
    assert second["counts"]["quarantined_active"] == 0 and active_rows(state, "default") == []
    assert active_quarantine_case_ids(state, store) == set()
    with state.connect() as conn:
        released = conn.execute(sa.select(quarantine.c.released_run, quarantine.c.released_at)).all()
    assert {run for run, _ in released} == {"run-2"} and all(at is not None for _, at in released)
    releases = [e for e in _ledger(settings) if e.action == RELEASED]
    assert {e.rule: set(e.record_ids) for e in releases} == by_rule


def test_rules_that_did_not_run_completely_release_nothing(settings_for, sqlite_url: str, make_store_at) -> None:
    store, manifest = make_store_at(sqlite_url, families=200, seed=11)
    settings = settings_for(sqlite_url)
    state = state_engine(settings)
    unit = Unit.open(settings)
    kind_rule = DEFECT_RULES["closed_without_reason"]
    ids = tuple(manifest.problems["closed_without_reason"])

    def report(status: str, record_ids=(), unidentified: int = 0) -> QualityReport:
        outcome = RuleOutcome(rule=kind_rule, dataset="cases", entity="case", severity="quarantine", status=status,
                              unexpected=len(record_ids) + unidentified, record_ids=record_ids, unidentified=unidentified)
        return QualityReport(store="default", as_of=AS_OF, run_id="r", outcomes=[outcome])

    with unit:
        kw = dict(at=AT, actor="test")
        assert sync(unit, store, report(FAILED, ids), run_id="r1", **kw).counts()["quarantined_new"] == len(ids)
        for incomplete in (report(ERROR), report(FAILED, (), unidentified=5)):
            assert sync(unit, store, incomplete, run_id="r2", **kw).counts()["released"] == 0
        assert {r["record_id"] for r in active_rows(state, "default")} == set(ids)
        assert sync(unit, store, report("passed"), run_id="r3", **kw).counts()["released"] == len(ids)


def test_ledger_in_another_database_is_written_first(make_store_at, settings_for, sqlite_url: str, tmp_path) -> None:
    make_store_at(sqlite_url, families=200, seed=11)
    settings = settings_for(sqlite_url)
    settings = type(settings)(**{**settings.__dict__, "state_url": f"sqlite:///{tmp_path / 'state.db'}"})

    summary = run_store(settings, "default", QualityOptions(as_of=AS_OF), run_id="run-1", actor="test", at=AT, publish=False)

    assert summary["counts"]["quarantined_new"] > 0
    quarantined = [e for e in _ledger(settings) if e.action == QUARANTINED]
    assert sum(len(e.record_ids) for e in quarantined) == summary["counts"]["quarantined_active"]


def test_too_many_quarantined_cases_fail_the_store(make_store_at, settings_for, sqlite_url: str) -> None:
    make_store_at(sqlite_url, families=200, seed=11)
    settings = settings_for(sqlite_url)

    summary = run_store(settings, "default", QualityOptions(as_of=AS_OF, max_quarantined_share=0.001),
                        run_id="run-1", actor="test", at=AT, publish=False)

    assert summary["passed"] is False and summary["gate"] == ["share"]
    message = gate_message(summary)
    assert message.startswith("store default failed validation (share): ") and "\n" not in message
    # Still quarantined: a failing store's bad records are held back all the same.
    assert summary["counts"]["quarantined_active"] > 0

"""Compliance runs: the findings table across runs, the ledger entry, retries, and no content anywhere.

State and ledger share one database (one transaction for findings and ledger)
on SQLite and PostgreSQL; a second test keeps them in separate databases.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
import sqlalchemy as sa

from governance.config import StoreConfig
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.sharing.alerts import alert_line
from governance.sharing.compliance import ACTION, run_compliance
from governance.sharing.findings import list_findings, resolve_finding
from governance.sharing.tables import findings, runs
from governance.state import state_engine
from governance.unit import Unit
from tests.sharing.conftest import settings_for
from tests.sharing.test_rules import expected

AT = datetime(2026, 7, 1, 6, 0, tzinfo=timezone.utc)


def _run(store, settings, run_id, as_of):
    with Unit.open(settings) as unit:
        return run_compliance(store, unit=unit, as_of=as_of, run_id=run_id, actor="test", at=AT)


def _entries(settings):
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        assert ledger.verify().ok
        return [e for e in ledger.entries() if e.action == ACTION]


def _rows(settings, store):
    with state_engine(settings).connect() as conn:
        return {f["finding_key"]: f for f in list_findings(conn, store=store)}


def _names(store) -> set[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(store.raw("person", "given_name"), store.raw("person", "family_name"))).all()
    return {n for row in rows for n in row if n and len(n) > 3}


def _set_access_reason(store, access_id, reason):
    with store.engine.begin() as conn:
        conn.execute(store.table("access_log").update().where(store.raw("access_log", "id") == access_id)
                     .values({store.raw("access_log", "reason"): reason}))


def test_findings_across_runs_and_the_ledger(db_url, store_factory, tmp_path):
    store, manifest = store_factory(db_url)
    settings = settings_for(tmp_path, [StoreConfig("default", db_url)], state_url=db_url, ledger_url=db_url)
    as_of = date.fromisoformat(manifest.as_of)
    want = expected(manifest, "reference")
    keys = sorted(f"{rule}:{rid}" for rule, ids in want.items() for rid in ids)

    first = _run(store, settings, "run-1", as_of)
    assert first["new"] == first["detected"] == first["open"] == first["open_total"] == len(keys)
    assert first["by_rule"] == {rule: len(ids) for rule, ids in want.items()}
    rows = _rows(settings, "default")
    assert sorted(rows) == keys
    assert all(r["status"] == "open" and r["first_seen_run"] == r["last_seen_run"] == "run-1" for r in rows.values())
    [entry] = _entries(settings)
    assert list(entry.record_ids) == keys and entry.store == "default" and entry.details["run_id"] == "run-1"
    assert entry.counts["detected.share_after_withdrawal"] == 2 and entry.counts["open"] == len(keys)

    # A retried task: same result, no second ledger entry, table unchanged.
    again = _run(store, settings, "run-1", as_of)
    assert {k: again[k] for k in ("new", "open", "ledger_seq")} == {k: first[k] for k in ("new", "open", "ledger_seq")}
    assert len(_entries(settings)) == 1 and _rows(settings, "default") == rows

    # Resolved with a note: stays resolved while still detected.
    noted = f"restricted_material_passed_on:{want['restricted_material_passed_on'][0]}"
    with state_engine(settings).begin() as conn:
        resolve_finding(conn, store="default", finding_key=noted, by="ig.officer", note="Agreed with police", at=AT)
    second = _run(store, settings, "run-2", as_of)
    assert second["still_detected_resolved_with_note"] == 1 and second["new"] == 0
    assert second["open_total"] == len(keys) - 1
    rows = _rows(settings, "default")
    assert rows[noted]["status"] == "resolved" and rows[noted]["resolution"] == "note"
    assert rows[noted]["last_seen_run"] == "run-2" and rows[noted]["first_seen_run"] == "run-1"
    assert "resolution_note" not in rows[noted]

    # Corrected in the store: resolved as no longer detected; broken again: reopened.
    access = want["non_staff_access_without_reason"][0]
    fixed = f"non_staff_access_without_reason:{access}"
    _set_access_reason(store, access, "reviewing the file for the panel")
    third = _run(store, settings, "run-3", as_of)
    assert third["resolved_no_longer_detected"] == 1
    assert _rows(settings, "default")[fixed]["resolution"] == "no_longer_detected"
    _set_access_reason(store, access, None)
    fourth = _run(store, settings, "run-4", as_of)
    assert fourth["reopened"] == 1 and _rows(settings, "default")[fixed]["status"] == "open"
    # The note-resolved finding is still resolved after all of that.
    assert _rows(settings, "default")[noted]["status"] == "resolved"
    assert [e.details["run_id"] for e in _entries(settings)] == ["run-1", "run-2", "run-3", "run-4"]

    # No personal data in results, alert lines or ledger entries.
    names = _names(store)
    assert names
    text = json.dumps([first, second, third, fourth]) + " ".join(alert_line(r) for r in (first, fourth))
    text += json.dumps([[e.reason, e.record_ids, e.counts, e.details] for e in _entries(settings)])
    assert not [n for n in names if n in text]


def test_state_and_ledger_in_separate_databases(tmp_path, store_factory):
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    store, manifest = store_factory(store_url, "homestart")
    settings = settings_for(tmp_path, [StoreConfig("default", store_url, "homestart")],
                            state_url=f"sqlite:///{tmp_path / 'state.db'}")
    result = _run(store, settings, "run-1", date.fromisoformat(manifest.as_of))
    want = expected(manifest, "homestart")
    assert result["by_rule"] == {rule: len(ids) for rule, ids in want.items()}
    assert result["rules_skipped"] == ["missing_privacy_notice"]
    [entry] = _entries(settings)
    assert len(entry.record_ids) == result["open_total"] == sum(len(v) for v in want.values())
    again = _run(store, settings, "run-1", date.fromisoformat(manifest.as_of))  # a retried task: no second entry
    assert again["ledger_seq"] == result["ledger_seq"] == entry.seq and len(_entries(settings)) == 1
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(findings)).scalar_one() == result["open_total"]
        assert conn.execute(sa.select(runs.c.ledger_seq).where(runs.c.run_id == "run-1")).scalar_one() == entry.seq


def test_resolving_needs_a_note_and_a_known_finding(sqlite_url, tmp_path):
    from governance.errors import GovernanceError
    from governance.sharing.consent import UnknownRecord

    from governance.state import ensure_schema

    engine = sa.create_engine(sqlite_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        with pytest.raises(GovernanceError, match="note"):
            resolve_finding(conn, store="default", finding_key="x:y", by="ig", note="  ", at=AT)
        with pytest.raises(UnknownRecord, match="no sharing finding x:y"):
            resolve_finding(conn, store="default", finding_key="x:y", by="ig", note="n", at=AT)

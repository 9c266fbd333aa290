"""The hand-written scenario store (tests/retention/scenarios/): every case gets the outcome domain.md gives it.

Run on SQLite and PostgreSQL (with text, timestamp and date columns: see the
loader), through the command line a records manager uses: ``governance
retention plan --json`` must account for every case exactly once with the
expected status, rule, date and reasons, and ``governance retention sweep``
must destroy exactly the due cases and leave every kept case whole.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
import sqlalchemy as sa

from governance.cli import main
from governance.state import state_engine
from governance.stores.model import ENTITIES
from governance.stores.store import CaseStore
from tests.retention.scenarios import AS_OF, SCENARIOS, expected, load


@pytest.fixture
def scenarios(world, monkeypatch, capsys):
    """The loaded scenario store, the CLI's environment pointing at it, and the holds placed."""
    settings, _ = world
    store = CaseStore.open(settings.store("default"))
    holds = load(store, state_engine(settings))
    store.engine.dispose()
    url = settings.store("default").url
    for key, value in {"GOVERNANCE_HOME": str(settings.home), "GOVERNANCE_STORE_DEFAULT_URL": url,
                       "GOVERNANCE_LEDGER_URL": settings.ledger_url, "GOVERNANCE_OBJECTS_URL": settings.objects_url,
                       "GOVERNANCE_KEYS_DIR": str(settings.keys_dir)}.items():
        monkeypatch.setenv(key, value)
    return settings, holds


def _cli(capsys, *argv: str) -> dict:
    code = main(list(argv))
    out = capsys.readouterr()
    assert code == 0 and "Traceback" not in out.err, out.err
    return json.loads(out.out)


def _listed(plan: dict) -> list[dict]:
    return [entry for section in ("due", "review", "excluded", "not_due") for entry in plan[section]]


def _store_case_ids(settings) -> list[str | None]:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        ids = conn.execute(sa.select(store.raw("case", "id"))).scalars().all()
    store.engine.dispose()
    return ids


def test_every_scenario_case_has_the_outcome_domain_md_gives_it(scenarios, capsys):
    settings, holds = scenarios
    plan = _cli(capsys, "retention", "plan", "--as-of", AS_OF.isoformat(), "--json")
    listed = _listed(plan)

    # Every case exactly once, the row without an id included (MISSING_ID, with its family).
    stored = _store_case_ids(settings)
    assert sorted(e["case_id"] for e in listed if e["case_id"]) == sorted(c for c in stored if c)
    assert len(listed) == len(stored) == plan["counts"]["cases"] == sum(len(s.cases) for s in SCENARIOS)
    no_id = [e for e in listed if e["case_id"] is None]
    assert [e["reasons"] for e in no_id] == [["MISSING_ID", "FAMILY:F-EH28"]]
    assert all(e["reasons"] for e in plan["not_due"]), "every not-due case says why"
    assert all(e["due_on"] for e in plan["not_due"] if e["reasons"] == ["CLOCK_RUNNING"])

    by_id = {e["case_id"]: e for e in listed}
    wrong = []
    for case_id, want in expected().items():
        got = by_id[case_id]
        reasons = [f"HOLD:{holds[r[5:]]}" if r.startswith("HOLD:") else r for r in want.reasons]
        expected_entry = (want.status, want.rule, want.due_on.isoformat() if want.due_on else None, reasons)
        actual = (got["status"], got["rule"], got["due_on"], got["reasons"])
        if actual != expected_entry:
            wrong.append(f"{case_id}: expected {expected_entry}, got {actual}")
    assert not wrong, "\n".join(wrong)


def test_a_sweep_destroys_exactly_the_due_cases_and_leaves_kept_cases_whole(scenarios, capsys):
    settings, _ = scenarios
    due = sorted(c for c, e in expected().items() if e.status == "due")
    before = set(c for c in _store_case_ids(settings) if c)
    swept = _cli(capsys, "retention", "sweep", "--as-of", AS_OF.isoformat(), "--created-by", "ig.alice",
                 "--approved-by", "ig.bob", "--quality-max-age-hours", "0", "--json")
    assert swept["proposed"]["due"] == len(due) and swept["verified"]["ok"], swept
    assert swept["certificate"]["skipped"] == 0
    after = _store_case_ids(settings)
    assert sorted(before - set(after)) == due
    assert after.count(None) == 1  # the row without an id is untouched

    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        def count(entity: str, record_id: str) -> int:
            return conn.execute(sa.select(sa.func.count()).select_from(store.table(entity))
                                .where(store.raw(entity, "id") == record_id)).scalar_one()

        for s in SCENARIOS:
            for entity, record_id in s.kept_after_sweep:
                assert count(entity, record_id) == 1, f"{s.key}: {entity} {record_id} was destroyed ({s.rule})"
            for entity, record_id in s.gone_after_sweep:
                assert count(entity, record_id) == 0, f"{s.key}: {entity} {record_id} is still there"
        dangling = {f"{entity}.{name}": _dangling(store, conn, entity, name, target)
                    for entity, model in ENTITIES.items() if store.has(entity)
                    for name, target in model.links.items() if store.has_field(entity, name)}
    store.engine.dispose()
    assert not {k: v for k, v in dangling.items() if v}, "a kept row points at a destroyed one"


def _dangling(store, conn, entity: str, name: str, target: str) -> int:
    link, target_id = store.raw(entity, name), store.raw(target, "id")
    parent = store.table(target)
    if parent is store.table(entity):  # a case re-referring to a case
        parent = parent.alias("p")
        target_id = parent.c[target_id.name]
    query = (sa.select(sa.func.count()).select_from(store.table(entity).outerjoin(parent, target_id == link))
             .where(link.is_not(None), target_id.is_(None)))
    return conn.execute(query).scalar_one()


def test_the_scenarios_cover_every_retention_class_and_state():
    """The store keeps its promise: every rule of the schedule and every outcome appears."""
    from governance.retention.schedule import load_schedule

    wants = expected().values()
    assert {w.rule for w in wants if w.rule} >= {r.id for r in load_schedule().rules}
    assert {w.status for w in wants} == {"due", "review", "excluded", "not_due"}
    assert 60 <= sum(len(s.cases) for s in SCENARIOS) <= 80
    assert len({s.key for s in SCENARIOS}) == len(SCENARIOS)
    assert all(s.rule for s in SCENARIOS)
    assert date(2026, 12, 5) == AS_OF


def test_data_quality_agrees_with_retention_on_the_scenario_store(scenarios):
    """Quality quarantines what retention cannot read, and not what retention treats as normal history.

    A real validation (Great Expectations) over the scenario store: the unreadable
    dates are caught by ``<entity>.<field>.readable``; a case reopened and closed
    again (EH07) fails no rule, while one reopened before it was opened (EH11) does.
    """
    from governance.jobs.quality import validate_store
    from governance.quality.tables import quarantine

    settings, _ = scenarios
    validate_store(settings, store="default", as_of=AS_OF, run_id="scenario-check", actor="test", publish=False)
    with state_engine(settings).connect() as conn:
        rows = conn.execute(sa.select(quarantine.c.case_id, quarantine.c.record_id, quarantine.c.expectation)
                            .where(quarantine.c.released_at.is_(None))).all()
    rules_by_case: dict[str, set[str]] = {}
    for case_id, _record, rule in rows:
        rules_by_case.setdefault(case_id, set()).add(rule)
    for case_id in ("EH23", "EH24", "EH25", "EH26"):
        assert "case.closed_on.readable" in rules_by_case.get(case_id, set()), case_id
    assert "person.date_of_birth.readable" in rules_by_case.get("CIN08", set())
    assert "casenote.written_on.readable" in rules_by_case.get("CIN09", set())
    assert "case.reopened_on.not_before_opened_on" in rules_by_case.get("EH11", set())
    # Read fine by both: a date-time, a UTC time, an ISO 'T'; reopened then closed again.
    for case_id in ("EH07", "EH20", "EH21", "EH22", "EH27"):
        assert case_id not in rules_by_case, (case_id, rules_by_case.get(case_id))

"""A hold holds what it names (issue 12, item 2), on SQLite and PostgreSQL.

The legal team's clerk types ids from an e-mail: a trailing space, lower case,
a digit short. Before, each was "placed" and the intended case destroyed by the
next sweep. Now what can be normalised is, and what matches nothing is refused
with one line naming the id, unless the hold is deliberately pre-emptive.
"""

from __future__ import annotations

import json
from datetime import date

import pytest

from governance.jobs import retention as jobs
from governance.retention.holds import HoldTargetUnknown, resolve_targets
from governance.stores.store import CaseStore

from tests.retention.safety_world import at, case_exists, case_history, cli_env, ledger_entries, run_cli

HOLD = ("retention", "hold", "add", "--kind", "litigation", "--source", "Family court, case FD26P00412",
        "--reason", "disclosure ordered", "--placed-on", "2026-11-20", "--review-on", "2027-05-20",
        "--placed-by", "legal.services", "--store", "default")


def test_ids_typed_with_spaces_or_in_lower_case_hold_the_intended_case(world, monkeypatch):
    settings, b = world
    spaced, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    lowered, _, _ = case_history(b, opened=date(2017, 9, 4), closed=date(2020, 7, 17))
    free, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    cli_env(monkeypatch, settings)

    code, out, err = run_cli(*HOLD, "--case-id", f"{spaced} ", "--case-id", lowered.lower(), "--json")
    assert code == 0, err
    assert json.loads(out)["scope"]["case_ids"] == sorted([spaced, lowered])  # the store's own form

    result = jobs.sweep(settings, "default", as_of=date(2026, 12, 1), created_by="ig.alice", approved_by="ig.bob",
                        now=at(date(2026, 12, 1)))
    assert result["proposed"]["due"] == 1
    assert case_exists(settings, spaced) and case_exists(settings, lowered) and not case_exists(settings, free)


def test_an_id_matching_nothing_is_refused_unless_the_hold_is_pre_emptive(world, monkeypatch):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    cli_env(monkeypatch, settings)
    typo = case[:-1] + ("9" if case[-1] != "9" else "8")

    code, out, err = run_cli(*HOLD, "--case-id", case, "--case-id", typo)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert f"case id '{typo}' matches no record in store default" in err and "--pre-emptive" in err
    code, _, err = run_cli(*HOLD, "--family-id", "F99999")
    assert code == 2 and "family id 'F99999' matches no record" in err
    code, out, _ = run_cli("retention", "hold", "list", "--as-of", "2026-12-01")
    assert out.strip() == "no holds in force"  # nothing was placed by the refused commands

    # A child's case being transferred in from another council next week: held before it arrives, on purpose.
    code, out, err = run_cli(*HOLD, "--case-id", "C-TRANSFER-0042", "--pre-emptive")
    assert code == 0 and "(pre-emptive)" in out, err
    code, out, _ = run_cli("retention", "hold", "list", "--as-of", "2026-12-01", "--json")
    [listed] = json.loads(out)["holds"]
    assert listed["scope"] == {"case_ids": ["C-TRANSFER-0042"], "pre_emptive": True}
    assert listed["matching_nothing"] == ["case id C-TRANSFER-0042"]
    code, out, _ = run_cli("retention", "hold", "list", "--as-of", "2026-12-01")
    assert "pre-emptive: matches nothing for case id C-TRANSFER-0042" in out


def test_resolution_is_governance_code_any_page_can_reuse(world):
    settings, b = world
    case, child, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    store = CaseStore.open(settings.store("default"))
    try:
        scope = resolve_targets([store], {"case_ids": [f"  {case.lower()}\t"], "person_ids": [child.lower()]})
        assert scope == {"case_ids": [case], "person_ids": [child]}
        with pytest.raises(HoldTargetUnknown, match="person id 'P404' matches no record"):
            resolve_targets([store], {"person_ids": ["P404"]})
    finally:
        store.engine.dispose()


def test_placing_and_lifting_a_hold_from_the_cli_is_in_the_ledger_and_a_refused_one_is_not(world, monkeypatch):
    """An auditor can see when a hold began and ended; the console takes the same path (jobs.holds)."""
    settings, b = world
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    cli_env(monkeypatch, settings)
    before = len(ledger_entries(settings))
    code, _, _ = run_cli(*HOLD, "--case-id", "C-NO-SUCH-CASE")
    assert code == 2 and len(ledger_entries(settings)) == before

    code, out, err = run_cli(*HOLD, "--case-id", f" {case.lower()}", "--json")
    assert code == 0, err
    hold_id = json.loads(out)["hold_id"]
    code, out, err = run_cli("retention", "hold", "lift", hold_id, "--lifted-on", "2026-12-02")
    assert code == 0 and "lifted" in out, err
    placed, lifted = [e for e in ledger_entries(settings) if e.action.startswith("retention.hold.")]
    assert (placed.action, placed.rule, placed.store) == ("retention.hold.placed", "litigation", "default")
    assert list(placed.record_ids) == [hold_id, case] and placed.counts["case_ids"] == 1
    assert placed.actor.startswith("cli:") and "disclosure ordered" not in json.dumps(placed.details)
    assert (lifted.action, lifted.record_ids, lifted.details["lifted_on"]) == ("retention.hold.lifted", (hold_id,),
                                                                             "2026-12-02")
    code, _, err = run_cli("retention", "hold", "lift", hold_id, "--lifted-on", "2026-12-03")
    assert code == 2 and "no active hold" in err
    assert len([e for e in ledger_entries(settings) if e.action == "retention.hold.lifted"]) == 1

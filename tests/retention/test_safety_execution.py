"""Retention safety under real conditions (issue 12, items 1, 3, 4, 5, 6, 7, 8), on SQLite and PostgreSQL.

Each test is one records manager's situation with hand-written cases, and each
fails on the code before this change: a hold placed after the batch's as-of was
ignored, a future as-of destroyed early, a doubled completion verified, an
unfinished batch was forgotten, a rejection did not stick, the run's creator
could approve it, and the review text mixed actions and reasons.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta, timezone

import pytest

from governance.errors import ConfigError, GovernanceError
from governance.jobs import retention as jobs
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.retention.holds import place_hold
from governance.sar.tables import requests as sar_requests
from governance.state import state_engine
from governance.stores.seeding import open_objects

from tests.retention.safety_world import (at, case_exists, case_history, cli_env, documents_of, items, ledger_entries,
                                          run_cli, write_documents)

AS_OF = date(2026, 12, 1)  # the batch's as-of: what the DAG passes
EXECUTED = at(date(2026, 12, 4))  # when the chunks run


@pytest.fixture(params=["one_database", "all_apart"])
def layout(request, world, tmp_path):
    """Store, state and ledger in one database (the one-transaction path), or all three apart (intent/complete)."""
    settings, builder = world
    if request.param == "all_apart":
        settings = dataclasses.replace(settings, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                                       state_url=f"sqlite:///{tmp_path / 'state.db'}")
    return settings, builder


def _approved(settings, as_of=AS_OF, now=None):
    proposed = jobs.propose(settings, "default", as_of=as_of, created_by="ig.alice", now=now or at(as_of))
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    return proposed


# -- item 1: holds and access requests in force at execution win over the as-of -------------------------


def test_a_hold_placed_after_the_batch_as_of_keeps_its_case_at_execution(world):
    settings, b = world
    litigated, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    requested, _, mother = case_history(b, opened=date(2017, 9, 4), closed=date(2020, 7, 17))
    free, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    write_documents(settings, b)
    proposed = _approved(settings)
    assert proposed["due"] == 3
    # Two days after the as-of: the family's solicitors ask for the file, and the mother asks for her records.
    hold = place_hold(state_engine(settings), kind="litigation", source="Family court, case FD26P00412",
                      reason="disclosure ordered", scope={"case_ids": [litigated]}, placed_on=date(2026, 12, 3),
                      review_on=date(2027, 6, 3), placed_by="legal.services")
    with state_engine(settings).begin() as conn:
        conn.execute(sar_requests.insert().values(request_id="SAR-2026-0091", store="default",
                                                  subject_person_id=mother, status="received",
                                                  received_on=date(2026, 12, 3), created_at=at(date(2026, 12, 3))))

    # The DAG passes the batch's as-of; the chunks run on the 4th.
    jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="ig.bob", now=EXECUTED)

    assert case_exists(settings, litigated) and documents_of(settings, b, litigated)
    assert case_exists(settings, requested) and documents_of(settings, b, requested)
    assert not case_exists(settings, free)
    state = items(settings, proposed["batch_id"])
    assert state[litigated] == ("skipped", f"HOLD:{hold.hold_id}")
    assert state[requested] == ("skipped", "SAR_PENDING") and state[free][0] == "done"
    skipped = [e for e in ledger_entries(settings, proposed["batch_id"]) if e.action == "retention.skipped"]
    assert sorted(c for e in skipped for c in e.record_ids) == sorted([litigated, requested])
    jobs.verify(settings, proposed["batch_id"], actor="ig.bob")
    cert = jobs.certify(settings, proposed["batch_id"], actor="ig.bob")
    assert (cert["destroyed"], cert["skipped"]) == (1, 2)
    body = json.loads(open_objects(settings).get(f"retention/certificates/{proposed['batch_id']}.json"))
    assert {s["case_id"]: s["reason"] for s in body["skipped"]} == {litigated: f"HOLD:{hold.hold_id}",
                                                                     requested: "SAR_PENDING"}


def test_a_hold_lifted_before_execution_no_longer_keeps_the_case(world):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    engine = state_engine(settings)
    hold = place_hold(engine, kind="inquiry", source="Local safeguarding review LSR-14", reason="learning review",
                      scope={"case_ids": [case]}, placed_on=date(2026, 1, 5), review_on=date(2026, 12, 31),
                      placed_by="ig.alice")
    assert jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", now=at(AS_OF))["due"] == 0
    from governance.retention.holds import lift_hold

    lift_hold(engine, hold.hold_id, lifted_on=date(2026, 12, 2))  # the review reported; nothing more needed
    proposed = _approved(settings, now=at(date(2026, 12, 2)))
    assert proposed["due"] == 1
    jobs.execute_all(settings, proposed["batch_id"], actor="ig.bob", now=EXECUTED)
    assert not case_exists(settings, case)


# -- item 3: no destruction judged as of a date after today --------------------------------------------------


def test_destructive_commands_refuse_a_future_as_of_and_plans_may_look_ahead(world, monkeypatch):
    settings, b = world
    due_now, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    due_2029, _, _ = case_history(b, opened=date(2021, 5, 10), closed=date(2024, 1, 10))
    cli_env(monkeypatch, settings)
    far = "2090-01-01"
    for argv in (("retention", "sweep", "--as-of", far, "--created-by", "ig.alice", "--approved-by", "ig.bob",
                  "--quality-max-age-hours", "0"),
                 ("retention", "batch", "create", "--as-of", far, "--created-by", "ig.alice",
                  "--quality-max-age-hours", "0")):
        code, out, err = run_cli(*argv)
        assert code == 2 and out == "", (argv, out, err)
        assert err.count("\n") == 1 and "as-of 2090-01-01 is after today" in err, err
    assert case_exists(settings, due_now) and case_exists(settings, due_2029)
    proposed = _approved(settings, as_of=date(2026, 6, 1))
    code, _, err = run_cli("retention", "batch", "execute", proposed["batch_id"], "--as-of", far, "--actor", "ig.bob")
    assert code == 2 and "after today" in err and err.count("\n") == 1
    assert case_exists(settings, due_now)
    code, out, _ = run_cli("retention", "plan", "--as-of", far, "--json")  # a forecast may look ahead
    assert code == 0 and {d["case_id"] for d in json.loads(out)["due"]} == {due_now, due_2029}
    # A sweep as of a past date first finishes the approved batch the refused execution left, then finds
    # nothing more due; its lines say which happened.
    code, out, err = run_cli("retention", "sweep", "--as-of", "2026-12-01", "--created-by", "ig.alice",
                             "--approved-by", "ig.bob", "--quality-max-age-hours", "0")
    assert code == 0 and out.splitlines() == [
        f"finished unfinished batch {proposed['batch_id']} (was approved): 1 destroyed, 0 anonymised, 0 held back",
        "nothing due in store default as of 2026-12-01"], (out, err)
    assert not case_exists(settings, due_now) and case_exists(settings, due_2029)


# -- item 4 (data side): a doubled completion never verifies -------------------------------------------------


def test_verify_fails_a_batch_whose_ledger_records_a_case_completed_twice(world):
    settings, b = world
    case, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    write_documents(settings, b)
    proposed = _approved(settings)
    jobs.execute_all(settings, proposed["batch_id"], actor="ig.bob", now=EXECUTED)
    [complete] = [e for e in ledger_entries(settings, proposed["batch_id"])
                  if e.action in ("retention.destroy.complete", "retention.objects.destroyed")]
    # What two racing executions used to leave: a second completion of the same chunk and case.
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        ledger.append(actor="ig.bob", action=complete.action, store="default", record_ids=[case],
                      counts=dict(complete.counts), details=dict(complete.details))
    finally:
        ledger.close()
    with pytest.raises(GovernanceError, match="1 cases completed more than once"):
        jobs.verify(settings, proposed["batch_id"], actor="ig.bob")
    failed = [e for e in ledger_entries(settings, proposed["batch_id"]) if e.action == "retention.verification_failed"]
    assert [e.counts["cases_completed_twice"] for e in failed] == [1]


# -- item 5: an unfinished batch is finished by the next sweep -----------------------------------------------


class Killed(BaseException):
    """Stands in for SIGKILL inside this process: nothing catches it (test_crash.py kills for real)."""


def test_a_sweep_first_finishes_a_batch_killed_after_the_store_committed(layout, monkeypatch):
    settings, b = layout
    gone, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    also, _, _ = case_history(b, "child_in_need", opened=date(2003, 2, 1), closed=date(2008, 1, 1),
                              child_dob=date(1995, 4, 1))
    write_documents(settings, b)
    proposed = _approved(settings)
    from governance.storage.local import LocalFolderStore

    real = LocalFolderStore.delete_many

    def killed(self, keys):
        raise Killed()

    monkeypatch.setattr(LocalFolderStore, "delete_many", killed)  # dies after the rows' commit, before objects
    with pytest.raises(Killed):
        jobs.execute_all(settings, proposed["batch_id"], actor="ig.bob", now=EXECUTED)
    monkeypatch.setattr(LocalFolderStore, "delete_many", real)
    from governance.retention.claims import current_claim

    assert jobs.batch_status(settings, proposed["batch_id"])["status"] == "executing"
    assert not case_exists(settings, gone) and documents_of(settings, b, gone)  # rows gone, documents left behind
    assert current_claim(state_engine(settings), "default") is None  # the claim went with the process

    result = jobs.sweep(settings, "default", as_of=AS_OF, created_by="ig.alice", approved_by="ig.bob", now=EXECUTED)

    assert [(f["batch_id"], f["was"], f["destroyed"], f["anonymised"]) for f in result["finished"]] == [
        (proposed["batch_id"], "executing", 1, 1)]
    assert result["proposed"]["batch_id"] is None  # nothing else was due
    assert documents_of(settings, b, gone) == [] and documents_of(settings, b, also) == []
    status = jobs.batch_status(settings, proposed["batch_id"])
    assert status["status"] == "verified"
    entries = ledger_entries(settings, proposed["batch_id"])
    completions = [c for e in entries if e.action in ("retention.destroy.complete", "retention.objects.destroyed")
                   for c in e.record_ids]
    assert sorted(completions) == sorted([gone, also])  # once each
    assert [e.action for e in entries].count("retention.certificate.issued") == 1


# -- item 6: a rejection sticks ----------------------------------------------------------------------------


def test_a_rejected_case_is_not_proposed_again_until_lifted_and_the_review_shows_it(world):
    settings, b = world
    disputed, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    other, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    first = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", now=at(AS_OF))
    with pytest.raises(ConfigError, match="a rejection needs a reason"):
        jobs.reject(settings, first["batch_id"], rejected_by="ig.carol", note="  ")
    reason = "Father disputes the closure; complaint CMP-2026-118 open with the ombudsman"
    jobs.reject(settings, first["batch_id"], rejected_by="ig.carol", note=reason)
    [rejected] = [e for e in ledger_entries(settings, first["batch_id"]) if e.action == "retention.batch.rejected"]
    assert rejected.reason == reason and rejected.actor == "ig.carol"

    again = jobs.propose(settings, "default", as_of=date(2026, 12, 2), created_by="ig.alice", now=at(date(2026, 12, 2)))
    assert again["batch_id"] is None and again["exclusion_reasons"].get("REJECTED") == 2
    plan = jobs.plan(settings, "default", as_of=date(2026, 12, 2), now=at(date(2026, 12, 2)))
    assert {d["case_id"]: d["reasons"] for d in plan["excluded"]} == {
        disputed: [f"REJECTED:{first['batch_id']}"], other: [f"REJECTED:{first['batch_id']}"]}

    from governance.retention.rejections import lift_rejection

    lift_rejection(state_engine(settings), store="default", case_id=f" {other} ", lifted_by="ig.dave",
                   reason="not part of the complaint", now=at(date(2026, 12, 3)))
    third = jobs.propose(settings, "default", as_of=date(2026, 12, 3), created_by="ig.alice", now=at(date(2026, 12, 3)))
    assert third["due"] == 1 and third["exclusion_reasons"].get("REJECTED") == 1
    assert "Earlier decisions on these cases" in third["review_markdown"]
    assert reason in third["review_markdown"] and "lifted by ig.dave" in third["review_markdown"]
    # Ninety days (the default) after the decision, the standing rejection of the disputed case has expired.
    later = datetime.now(timezone.utc).date() + timedelta(days=91)
    plan = jobs.plan(settings, "default", as_of=later, now=at(later))
    assert disputed in {d["case_id"] for d in plan["due"]}


# -- item 7: the two-person rule in Airflow's terms ----------------------------------------------------------


def test_airflow_review_the_triggerer_cannot_approve_and_reject_needs_a_reason(world):
    settings, b = world
    case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    creator = jobs.run_creator("manual", "ig.bob")
    assert creator == "airflow:ig.bob" and jobs.run_creator("scheduled", None) == "schedule"
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by=creator, now=at(AS_OF))
    by_bob = {"chosen_options": ["Approve"], "responded_by_user": {"id": "7", "name": "ig.bob"}, "params_input": {}}
    with pytest.raises(GovernanceError, match="two-person rule"):
        jobs.apply_review(settings, proposed["batch_id"], by_bob)
    no_reason = {"chosen_options": ["Reject"], "responded_by_user": {"id": "9", "name": "ig.carol"},
                 "params_input": {"reason": ""}}
    with pytest.raises(GovernanceError, match="needs a reason"):
        jobs.apply_review(settings, proposed["batch_id"], no_reason)
    assert jobs.batch_status(settings, proposed["batch_id"])["status"] == "proposed"
    with_reason = {**no_reason, "params_input": {"reason": "Case linked to an open s.47 enquiry on a sibling"}}
    assert jobs.apply_review(settings, proposed["batch_id"], with_reason)["approved"] is False
    [entry] = [e for e in ledger_entries(settings, proposed["batch_id"]) if e.action == "retention.batch.rejected"]
    assert (entry.actor, entry.reason) == ("airflow:ig.carol", "Case linked to an open s.47 enquiry on a sibling")


# -- item 8: the review text ------------------------------------------------------------------------------


def test_review_text_names_each_action_and_keeps_not_due_apart_from_kept_back(world):
    settings, b = world
    case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))  # early help: destroy
    case_history(b, "child_in_need", opened=date(2003, 2, 1), closed=date(2008, 1, 1), child_dob=date(1995, 4, 1))
    case_history(b, opened=date(2025, 9, 1), closed=None)  # still open
    case_history(b, opened=date(2023, 2, 6), closed=date(2024, 1, 10))  # clock running until 2029
    held, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    place_hold(state_engine(settings), kind="litigation", source="County court claim K26CL0193",
               reason="personal injury claim", scope={"case_ids": [held]}, placed_on=date(2026, 11, 1),
               review_on=date(2027, 11, 1), placed_by="legal.services")
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", now=at(AS_OF))
    text = proposed["review_markdown"]
    assert "| early_help | destroy | 1 |" in text and "| child_in_need | anonymise | 1 |" in text
    assert "**1 to destroy**" in text and "**1 to anonymise**" in text
    assert "*anonymise*: a statistical skeleton is kept" in text and "*destroy*: the case's rows" in text
    not_due = next(line for line in text.splitlines() if line.startswith("**Not due yet**"))
    kept = next(line for line in text.splitlines() if line.startswith("**Kept back"))
    assert "2 cases" in not_due and "still open 1" in not_due and "retention period still running 1" in not_due
    assert "1 cases" in kept and "litigation / inquiry hold 1" in kept
    assert "HOLD" not in not_due and "open" not in kept
    assert "Testname" not in text and "boiler" not in text  # counts only, never content

"""A hold or access request removed behind the platform's back still keeps its cases, on SQLite and PostgreSQL.

A DBA deletes a hold row, narrows its scope, or sets a pending access request
to ``withdrawn`` between approval and execution. Before this check, execution
read only the state tables and destroyed the cases the ledger said were held.
Now the chunk stops with one line naming the hold or request and the rule, and
nothing is destroyed; once the row is restored the batch runs as before.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
import sqlalchemy as sa

from governance.errors import RecordRuleError
from governance.jobs import holds as hold_jobs
from governance.jobs import retention as jobs
from governance.jobs.sar import lodge_request
from governance.retention import tables
from governance.retention.ledger_keepers import KEEPER_RULE
from governance.sar.tables import requests as sar_requests
from governance.state import state_engine

from tests.retention.safety_world import at, case_exists, case_history, items, write_documents

AS_OF = date(2026, 12, 1)
EXECUTED = at(date(2026, 12, 4))


@pytest.fixture(params=["one_database", "all_apart"])
def layout(request, world, tmp_path):
    settings, builder = world
    if request.param == "all_apart":
        settings = dataclasses.replace(settings, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                                       state_url=f"sqlite:///{tmp_path / 'state.db'}")
    return settings, builder


def _batch(settings) -> str:
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice", now=at(AS_OF))
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    return proposed["batch_id"]


def _hold(settings, case_id: str):
    hold, _seq = hold_jobs.place(settings, actor="cli:legal", kind="litigation", source="Family court",
                                 reason="disclosure ordered", scope={"case_ids": [case_id]},
                                 placed_on=date(2026, 11, 20), review_on=date(2027, 5, 20), placed_by="legal.services")
    return hold


def _execute(settings, batch_id):
    return jobs.execute_all(settings, batch_id, as_of=AS_OF, actor="ig.bob", now=EXECUTED)


def test_a_hold_row_deleted_from_the_state_database_stops_execution_and_destroys_nothing(layout):
    settings, b = layout
    held, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    free, _, _ = case_history(b, opened=date(2015, 1, 12), closed=date(2018, 11, 2))
    write_documents(settings, b)
    batch_id = _batch(settings)
    hold = _hold(settings, held)  # placed after the batch was made: it keeps the case at execution
    with state_engine(settings).begin() as conn:  # the DBA's edit
        conn.execute(tables.holds.delete().where(tables.holds.c.hold_id == hold.hold_id))

    with pytest.raises(RecordRuleError) as caught:
        _execute(settings, batch_id)

    assert set(items(settings, batch_id)) == {held, free}
    message = str(caught.value)
    assert hold.hold_id in message and KEEPER_RULE in message and "no row in retention_holds" in message
    assert "\n" not in message and held not in message  # names the hold, not the cases
    assert case_exists(settings, held) and case_exists(settings, free)
    assert {state for state, _ in items(settings, batch_id).values()} == {"pending"}


def test_a_hold_scope_edited_outside_the_platform_is_refused(layout):
    settings, b = layout
    held, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    write_documents(settings, b)
    batch_id = _batch(settings)
    hold = _hold(settings, held)  # placed after the batch was made: it keeps the case at execution
    with state_engine(settings).begin() as conn:
        conn.execute(tables.holds.update().where(tables.holds.c.hold_id == hold.hold_id)
                     .values(scope='{"case_ids": ["C99999"]}'))

    with pytest.raises(RecordRuleError, match="covers other cases"):
        _execute(settings, batch_id)
    assert case_exists(settings, held)


def test_a_lift_killed_between_its_row_and_its_ledger_entry_is_finished_by_lifting_again(layout):
    settings, b = layout
    held, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    write_documents(settings, b)
    batch_id = _batch(settings)
    hold = _hold(settings, held)  # placed after the batch was made: it keeps the case at execution
    with state_engine(settings).begin() as conn:  # the row is lifted; the process died before the ledger entry
        conn.execute(tables.holds.update().where(tables.holds.c.hold_id == hold.hold_id)
                     .values(lifted_on=date(2026, 12, 2)))
    with pytest.raises(RecordRuleError, match="lift killed midway"):
        _execute(settings, batch_id)
    assert case_exists(settings, held)

    hold_jobs.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 12, 3))
    _execute(settings, batch_id)

    assert not case_exists(settings, held)
    with pytest.raises(Exception, match="no active hold"):  # a third lift has nothing left to record
        hold_jobs.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 12, 3))


def test_an_access_request_set_to_withdrawn_by_hand_still_keeps_the_subjects_case(layout):
    settings, b = layout
    requested, _, mother = case_history(b, opened=date(2017, 9, 4), closed=date(2020, 7, 17))
    write_documents(settings, b)
    batch_id = _batch(settings)
    lodged = lodge_request(settings, store="default", subject_person_id=mother, received_on=date(2026, 11, 25),
                           actor="cli:records-management")
    with state_engine(settings).begin() as conn:
        conn.execute(sar_requests.update().where(sar_requests.c.request_id == lodged["request_id"])
                     .values(status="withdrawn"))

    with pytest.raises(RecordRuleError) as caught:
        _execute(settings, batch_id)
    assert lodged["request_id"] in str(caught.value) and "'withdrawn' in sar_requests" in str(caught.value)
    assert mother not in str(caught.value)
    assert case_exists(settings, requested)

    with state_engine(settings).begin() as conn:  # restored: the request keeps the case the ordinary way
        conn.execute(sar_requests.update().where(sar_requests.c.request_id == lodged["request_id"])
                     .values(status="received"))
    result = _execute(settings, batch_id)
    assert case_exists(settings, requested)
    assert result["skipped"] == 1  # the operator's summary says a case was held back
    assert items(settings, batch_id)[requested] == ("skipped", "SAR_PENDING")


def test_holds_lifted_and_requests_closed_through_the_platform_pass_the_check(layout):
    settings, b = layout
    held, _, _ = case_history(b, opened=date(2016, 4, 11), closed=date(2019, 3, 29))
    requested, _, mother = case_history(b, opened=date(2017, 9, 4), closed=date(2020, 7, 17))
    write_documents(settings, b)
    hold = _hold(settings, held)
    lodged = lodge_request(settings, store="default", subject_person_id=mother, received_on=date(2026, 11, 25),
                           actor="cli:records-management")
    hold_jobs.lift(settings, actor="cli:legal", hold_id=hold.hold_id, lifted_on=date(2026, 11, 28))
    from governance.jobs.sar import close_request

    close_request(settings, lodged["request_id"], status="withdrawn", actor="cli:records-management")
    batch_id = _batch(settings)
    from governance.keys import KeyStore
    from governance.ledger import Ledger

    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:  # manual notes, as `audit record`
        ledger.append(actor="ig.lead", action="retention.hold.placed", store="default", record_ids=["H-note"])
        ledger.append(actor="ig.lead", action="sar.lodged", store="default", record_ids=["sar-note"])

    _execute(settings, batch_id)

    assert not case_exists(settings, held) and not case_exists(settings, requested)
    with state_engine(settings).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tables.holds)).scalar_one() == 1

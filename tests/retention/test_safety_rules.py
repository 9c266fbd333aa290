"""Each safety rule, pinned by a case that would be destroyed if the rule were missing.

Run on SQLite and PostgreSQL. Every test first shows the case *is* due without
the protection (so the test could fail), then that the protection keeps it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from governance.quality.tables import quarantine
from governance.retention.eligibility import evaluate
from governance.retention.holds import lift_hold, place_hold
from governance.retention.schedule import load_schedule
from governance.sar.tables import requests
from governance.state import state_engine
from governance.stores.store import CaseStore

AS_OF = date(2025, 6, 1)


def decide(settings, as_of=AS_OF):
    store = CaseStore.open(settings.store("default"))
    return {d.case_id: d for d in evaluate(store, state_engine(settings), load_schedule(), as_of)}


def test_a_closed_early_help_case_past_five_years_is_due(world):
    settings, b = world
    case, _, _ = b.simple(closed=date(2019, 1, 10))
    d = decide(settings)[case]
    assert (d.status, d.rule_id, d.action, d.due_on) == ("due", "early_help", "destroy", date(2024, 1, 10))


def test_a_hold_keeps_the_case_until_lifted(world):
    settings, b = world
    case, _, _ = b.simple()
    other, _, _ = b.simple()
    hold = place_hold(state_engine(settings), kind="litigation", source="County Court claim 123", reason="disclosure",
                      scope={"case_ids": [case]}, placed_on=date(2024, 1, 1), review_on=date(2026, 1, 1), placed_by="ig")
    decisions = decide(settings)
    assert decisions[case].status == "excluded" and decisions[case].reasons == (f"HOLD:{hold.hold_id}",)
    assert decisions[other].status == "due"
    lift_hold(state_engine(settings), hold.hold_id, lifted_on=date(2025, 5, 1))
    assert decide(settings)[case].status == "due"


def test_an_inquiry_hold_on_a_flag_covers_every_flagged_case(world):
    settings, b = world
    flagged, _, _ = b.simple("child_in_need", csa_relevant=True, child_dob=date(1990, 1, 1), opened=date(2006, 1, 1), closed=date(2008, 1, 1))
    plain, _, _ = b.simple("child_in_need", csa_relevant=False, child_dob=date(1990, 1, 1), opened=date(2006, 1, 1), closed=date(2008, 1, 1))
    place_hold(state_engine(settings), kind="inquiry", source="IICSA preservation instruction 2015-07-02",
               reason="child sexual abuse inquiry", scope={"flags": ["csa_relevant"]}, placed_on=date(2015, 7, 2),
               review_on=date(2023, 1, 20), placed_by="ig")
    decisions = decide(settings)
    assert decisions[flagged].status == "excluded" and decisions[plain].status == "due"


def test_a_pending_access_request_by_any_member_holds_the_case(world):
    settings, b = world
    case, child, parent = b.simple()
    assert decide(settings)[case].status == "due"
    with state_engine(settings).begin() as conn:
        conn.execute(requests.insert().values(request_id="SAR-1", store="default", subject_person_id=parent,
                                              status="received", received_on=date(2025, 5, 20),
                                              created_at=datetime.now(timezone.utc)))
    assert decide(settings)[case].reasons == ("SAR_PENDING",)
    with state_engine(settings).begin() as conn:
        conn.execute(requests.update().values(status="delivered"))
    assert decide(settings)[case].status == "due"


def test_quarantine_keeps_the_case_until_released(world):
    settings, b = world
    case, _, _ = b.simple()
    with state_engine(settings).begin() as conn:
        conn.execute(quarantine.insert().values(store="default", entity="casenote", record_id="N1", case_id=case,
                                                expectation="casenote_date_not_in_future",
                                                quarantined_at=datetime.now(timezone.utc)))
    assert decide(settings)[case].reasons == ("QUARANTINED",)
    with state_engine(settings).begin() as conn:
        conn.execute(quarantine.update().values(released_at=datetime.now(timezone.utc)))
    assert decide(settings)[case].status == "due"


def test_a_reopened_case_is_not_due(world):
    settings, b = world
    reopened, _, _ = b.simple(status="open", reopened=date(2024, 11, 1))
    closed_again, _, _ = b.simple(reopened=date(2018, 6, 1), closed=date(2019, 1, 10))
    decisions = decide(settings)
    assert decisions[reopened].status == "not_due" and decisions[reopened].reasons == ("REOPENED",)
    assert decisions[closed_again].status == "due"  # reopened, then closed again before the clock ran


def test_a_re_referral_keeps_the_earlier_episode(world):
    settings, b = world
    first, child, parent = b.simple(closed=date(2016, 3, 1))
    fid = CaseStore.open(settings.store("default"))
    later = b.case(_family_of(settings, first), "early_help", opened=date(2024, 2, 1), closed=None,
                   members=((child, "subject_child"),), re_referral_of=first)
    decisions = decide(settings)
    assert decisions[first].status == "not_due" and decisions[first].reasons == ("CHAIN_NOT_DUE",)
    assert decisions[later].status == "not_due"
    fid.engine.dispose()


def test_a_sibling_with_a_longer_clock_keeps_the_shared_case(world):
    settings, b = world
    fid = b.family()
    older = b.person(fid, "subject_child", dob=date(2000, 1, 1))
    younger = b.person(fid, "subject_child", dob=date(2008, 6, 1))
    shared = b.case(fid, "child_in_need", opened=date(2009, 1, 1), closed=date(2012, 1, 1),
                    members=((older, "subject_child"), (younger, "subject_child")))
    alone = b.case(fid, "child_in_need", opened=date(2009, 1, 1), closed=date(2012, 1, 1),
                   members=((older, "subject_child"),))
    decisions = decide(settings)
    assert decisions[alone].status == "due"  # the older child turned 18 in 2018
    assert decisions[shared].status == "not_due" and decisions[shared].due_on == date(2026, 6, 1)


def test_missing_or_implausible_dates_are_excluded_never_guessed(world):
    settings, b = world
    no_closure, _, _ = b.simple(status="closed", closed=None)
    backwards, _, _ = b.simple(opened=date(2019, 6, 1), closed=date(2019, 1, 10))
    future, _, _ = b.simple(closed=date(2026, 1, 1))
    placeholder_dob, _, _ = b.simple("child_in_need", child_dob=date(1900, 1, 1), opened=date(1999, 1, 1), closed=date(2001, 1, 1))
    no_dob, _, _ = b.simple("child_in_need", child_dob=None, opened=date(1999, 1, 1), closed=date(2001, 1, 1))
    decisions = decide(settings)
    assert decisions[no_closure].reasons == ("MISSING_TRIGGER:closed_on",)
    assert decisions[backwards].reasons == ("IMPLAUSIBLE_DATE:closed_before_opened",)
    assert decisions[future].reasons == ("IMPLAUSIBLE_DATE:closed_on_in_future",)
    assert decisions[placeholder_dob].reasons == ("IMPLAUSIBLE_DATE:date_of_birth",)
    assert decisions[no_dob].reasons == ("MISSING_TRIGGER:date_of_birth",)
    assert all(decisions[c].status == "excluded" for c in (no_closure, backwards, future, placeholder_dob, no_dob))


def test_the_expiry_day_itself_and_29_february(world):
    settings, b = world
    ides, _, _ = b.simple(closed=date(2020, 3, 15))
    leap, _, _ = b.simple(closed=date(2020, 2, 29))
    assert decide(settings, date(2025, 3, 14))[ides].status == "not_due"
    assert decide(settings, date(2025, 3, 15))[ides].status == "due"
    assert decide(settings, date(2025, 2, 28))[leap].status == "not_due"
    assert decide(settings, date(2025, 3, 1))[leap].status == "due"


def test_review_classes_are_never_due_for_destruction(world):
    settings, b = world
    cp, _, _ = b.simple("child_protection", closed=date(1980, 1, 1), opened=date(1979, 1, 1), child_dob=date(1975, 1, 1))
    d = decide(settings)[cp]
    assert d.status == "review" and d.action == "review"


def _family_of(settings, case_id: str) -> str:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        family = conn.execute(sa.select(store.raw("case", "family_id")).where(store.raw("case", "id") == case_id)).scalar_one()
    store.engine.dispose()
    return family


# -- issue 12 item 9: clock rules ----------------------------------------------------------


def test_a_sibling_who_died_young_does_not_shorten_the_living_siblings_75_year_clock(world):
    settings, b = world
    fid = b.family()
    died = b.person(fid, "subject_child", dob=date(1999, 3, 3), died=date(2006, 10, 12))  # death + 15 = 2021
    living = b.person(fid, "subject_child", dob=date(1998, 1, 20))  # 75th birthday 2073
    both = b.case(fid, "looked_after", opened=date(2003, 9, 1), closed=date(2007, 1, 31),
                  members=((died, "subject_child"), (living, "subject_child")))
    alone = b.case(fid, "looked_after", opened=date(2003, 9, 1), closed=date(2007, 1, 31),
                   members=((died, "subject_child"),))
    decisions = decide(settings)
    assert (decisions[alone].status, decisions[alone].rule_id) == ("review", "looked_after_died_before_18")
    d = decisions[both]
    assert (d.status, d.rule_id, d.due_on) == ("not_due", "looked_after", date(2073, 1, 20))


def test_a_chain_with_a_review_only_case_keeps_its_early_help_episode(world):
    settings, b = world
    cp, child, parent = b.simple("child_protection", opened=date(1987, 2, 10), closed=date(1989, 5, 12),
                                 child_dob=date(1986, 1, 1))
    early_help = b.case(_family_of(settings, cp), "early_help", opened=date(2013, 1, 7), closed=date(2016, 9, 30),
                        members=((parent, "parent_carer"),), re_referral_of=cp)
    decisions = decide(settings)
    assert decisions[cp].status == "review"
    d = decisions[early_help]
    assert (d.status, d.reasons) == ("review", (f"CHAIN_REVIEW:{cp}",))  # listed with its series, never destroyed


def test_contact_recorded_after_closure_restarts_the_last_activity_clocks(world):
    settings, b = world
    cin, _, _ = b.simple("child_in_need", child_dob=date(2000, 9, 9), opened=date(2017, 5, 2), closed=date(2021, 2, 1))
    cp, _, _ = b.simple("child_protection", child_dob=date(1982, 2, 2), opened=date(1988, 2, 1), closed=date(1990, 3, 1))
    untouched, _, _ = b.simple("child_in_need", child_dob=date(2000, 9, 9), opened=date(2017, 5, 2),
                               closed=date(2021, 2, 1))
    assert decide(settings)[cin].status == "due" and decide(settings)[cp].status == "review"
    with b.store.engine.begin() as conn:
        b.store.insert(conn, "casenote", [
            {"id": "N-after-1", "case_id": cin, "written_on": date(2024, 6, 10), "title": "Phone call",
             "body": "Young person asked for a letter for her housing application."},
            {"id": "N-after-2", "case_id": cp, "written_on": date(1993, 7, 14), "title": "Core group",
             "body": "Core group reconvened after a school referral; no further action."}])
    decisions = decide(settings)
    assert (decisions[cin].status, decisions[cin].due_on) == ("not_due", date(2027, 6, 10))
    assert (decisions[cp].status, decisions[cp].due_on) == ("not_due", date(2028, 7, 14))
    assert decisions[untouched].status == "due"


# -- issue 12 item 11: dates as stores hold them -------------------------------------------


def _store_text(b, table: str, column: str, record_id_column: str, record_id: str, value: str) -> None:
    """Write ``value`` as the stored text (PostgreSQL: the column becomes text, as in a legacy store)."""
    with b.store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING {column}::text")
        conn.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {record_id_column} = :id"),
                     {"v": value, "id": record_id})


def test_stored_date_formats_are_read_or_exclude_the_case_never_the_store(world):
    settings, b = world
    stored = {"2021-06-30 00:00:00": ("due", ()), "2021-12-05 23:59:00": ("due", ()),
              "2021-06-30T23:30:00Z": ("due", ()),
              "30/06/2021": ("excluded", ("UNREADABLE_DATE:case.closed_on",)),
              "0000-00-00": ("excluded", ("UNREADABLE_DATE:case.closed_on",)),
              "not a date": ("excluded", ("UNREADABLE_DATE:case.closed_on",))}
    cases = {text: b.simple(opened=date(2019, 1, 7), closed=date(2021, 6, 30))[0] for text in stored}
    for text, case in cases.items():
        _store_text(b, "cases", "closed_on", "case_id", case, text)
    decisions = decide(settings, date(2026, 12, 5))
    for text, case in cases.items():
        assert (decisions[case].status, decisions[case].reasons) == stored[text], text
    assert decisions[cases["2021-06-30T23:30:00Z"]].due_on == date(2026, 7, 1)  # 00:30 BST on 1 July


def test_an_unreadable_date_of_birth_excludes_only_its_case(world):
    settings, b = world
    bad, child, _ = b.simple("child_in_need", child_dob=date(2003, 3, 12), opened=date(2014, 2, 10),
                             closed=date(2016, 2, 10))
    good, _, _ = b.simple("child_in_need", child_dob=date(2003, 3, 12), opened=date(2014, 2, 10),
                          closed=date(2016, 2, 10))
    _store_text(b, "people", "date_of_birth", "person_id", child, "12/03/2003")
    decisions = decide(settings)
    assert decisions[bad].reasons == ("UNREADABLE_DATE:person.date_of_birth",)
    assert decisions[good].status == "due"

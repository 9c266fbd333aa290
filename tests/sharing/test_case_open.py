"""Was the statutory case open on the day? Reopened cases, closed again or not, and dates kept as text.

A store written by hand in the voice of a children's social-care system (every
name, address and number fictional). The store keeps one closure date per
case: while a reopened case is still open it is the first closure (before
``reopened_on``); once the case is closed again it is the second (after
``reopened_on``), and the first closure is no longer on the case row.

F-ROWE   child in need, opened 7 Mar 2022, first closed 20 Jan 2023 (only the
         closure summary says so), reopened 18 Sep 2023, closed again 31 May 2024.
F-IQBAL  child in need, opened 11 Jan 2021, closed 28 Feb 2022, reopened 3 Apr 2023, still open.
F-MARSH  child protection, closed 30 Jun 2023, reopened 8 Jan 2024, status closed again with
         no second closure date recorded.
F-OKON   child in need kept by a legacy system: dates as text with a time of day
         (``'2024-02-12 09:15:00'``), and one closure typed by hand (``'31/10/2023'``).

No family signed a consent form, so where no statutory case is open the answer
is ``override_required``; an open one makes it ``allowed`` on ``legal_duty``.
Runs on SQLite and PostgreSQL (text columns altered to TEXT on PostgreSQL).
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from governance.config import StoreConfig
from governance.sharing import check_sharing
from governance.stores.store import CaseStore

D = date.fromisoformat

_HOMES = {"F-ROWE": ("Rowe household", "3 Tannery Close, Eastwick", "ZX2 7QT"),
          "F-IQBAL": ("Iqbal household", "41 Orchard Way, Eastwick", "ZX5 1QT"),
          "F-MARSH": ("Marsh household", "9 Weir Street, Eastwick", "ZX6 3QT"),
          "F-OKON": ("Okonkwo household", "22 Holloway Mews, Eastwick", "ZX7 4QT")}


def _case(cid, fid, ctype, status, opened, closed=None, reopened=None):
    return {"id": cid, "family_id": fid, "case_type": ctype, "status": status, "opened_on": D(opened),
            "closed_on": D(closed) if closed else None, "reopened_on": D(reopened) if reopened else None,
            "closure_reason": "no further social-care role" if closed else None}


def _build(url: str, *, legacy_text: dict[tuple[str, str], str] | None = None) -> CaseStore:
    store = CaseStore.open(StoreConfig("casedates", url, "reference"))
    store.create_schema()
    if legacy_text and store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            for column in ("opened_on", "closed_on", "reopened_on"):
                conn.exec_driver_sql(f"ALTER TABLE cases ALTER COLUMN {column} TYPE text USING {column}::text")
    rows = {
        "family": [{"id": f, "household_name": n, "address": a, "postcode": p} for f, (n, a, p) in _HOMES.items()],
        "person": [{"id": f"{f}-CHILD", "family_id": f, "role": "subject_child", "given_name": given,
                    "family_name": n.split()[0], "date_of_birth": D("2014-06-21")}
                   for (f, (n, _, _)), given in zip(_HOMES.items(), ("Kacey", "Amara", "Tyler", "Chidi"))],
        "case": [
            _case("CIN-ROWE", "F-ROWE", "child_in_need", "closed", "2022-03-07", "2024-05-31", "2023-09-18"),
            _case("CIN-IQBAL", "F-IQBAL", "child_in_need", "open", "2021-01-11", "2022-02-28", "2023-04-03"),
            _case("CP-MARSH", "F-MARSH", "child_protection", "closed", "2022-11-14", "2023-06-30", "2024-01-08"),
            _case("CIN-OKON", "F-OKON", "child_in_need", "open", "2022-05-03", "2023-10-31", "2024-02-12"),
            _case("CIN-OKON2", "F-OKON", "child_in_need", "closed", "2021-01-04", "2021-09-30"),
        ],
        "casenote": [{"id": "CN-ROWE-1", "case_id": "CIN-ROWE", "written_on": D("2023-01-20"),
                      "title": "Closure summary", "body": "Plan ended: Kacey settled at school, no further role."}],
    }
    with store.engine.begin() as conn:
        for entity, items in rows.items():
            store.insert(conn, entity, items)
        for (case_id, field), text in (legacy_text or {}).items():
            column = store.raw("case", field)
            conn.execute(sa.update(store.table("case")).where(store.raw("case", "id") == case_id)
                         .values({column.name: sa.literal(text, sa.String())}))
    return store


@pytest.fixture
def store(db_url):
    built = _build(db_url)
    yield built
    built.engine.dispose()


def _legal_duty(store, family: str, on: str) -> tuple[str, tuple[str, ...]]:
    answer = check_sharing(store, family, "police", D(on))
    return answer.decision, answer.statutory_case_ids


@pytest.mark.parametrize("on, open_", [
    ("2022-03-07", False),  # first episode: its end is no longer recorded, so it cannot be shown open
    ("2023-05-15", False),  # between the first closure and the reopening: closed
    ("2023-09-18", True),   # the day it was reopened
    ("2023-11-02", True),   # during the reopened period
    ("2024-05-31", True),   # the day it closed again
    ("2024-08-01", False),  # after the second closure
])
def test_a_case_reopened_and_closed_again_is_open_only_while_reopened(store, on, open_):
    expected = ("allowed", ("CIN-ROWE",)) if open_ else ("override_required", ())
    assert _legal_duty(store, "F-ROWE", on) == expected


@pytest.mark.parametrize("on, open_", [
    ("2021-01-11", True), ("2022-02-28", True),  # the first episode, closure day included
    ("2022-10-10", False),  # closed, not yet reopened
    ("2023-04-03", True), ("2025-01-15", True),  # reopened and still open
])
def test_a_reopened_case_still_open_was_closed_between_its_closure_and_its_reopening(store, on, open_):
    expected = ("allowed", ("CIN-IQBAL",)) if open_ else ("override_required", ())
    assert _legal_duty(store, "F-IQBAL", on) == expected


def test_a_case_closed_again_without_a_second_closure_date_is_not_shown_open_after_its_reopening(store):
    assert _legal_duty(store, "F-MARSH", "2023-03-01") == ("allowed", ("CP-MARSH",))
    assert _legal_duty(store, "F-MARSH", "2023-09-01") == ("override_required", ())
    assert _legal_duty(store, "F-MARSH", "2024-03-01") == ("override_required", ())


def test_a_per_case_check_uses_the_same_rule(store):
    assert check_sharing(store, "F-ROWE", "health", D("2024-08-01"), case_id="CIN-ROWE").decision == "override_required"
    assert check_sharing(store, "F-ROWE", "health", D("2023-11-02"), case_id="CIN-ROWE").basis == "legal_duty"


def test_dates_kept_as_text_are_read_by_the_one_reading_rule(db_url):
    store = _build(db_url, legacy_text={("CIN-OKON", "opened_on"): "2022-05-03 10:00:00",
                                        ("CIN-OKON", "closed_on"): "2023-10-31 16:40:00",
                                        ("CIN-OKON", "reopened_on"): " 2024-02-12 09:15:00 ",
                                        ("CIN-OKON2", "closed_on"): "31/10/2021"})
    try:
        assert _legal_duty(store, "F-OKON", "2023-10-31") == ("allowed", ("CIN-OKON",))
        assert _legal_duty(store, "F-OKON", "2023-12-01") == ("override_required", ())
        assert _legal_duty(store, "F-OKON", "2024-02-12") == ("allowed", ("CIN-OKON",))
        # A closure nobody can read (day-first or month-first?) is never taken as "still open".
        answer = check_sharing(store, "F-OKON", "police", D("2021-06-01"))
        assert answer.decision == "override_required" and answer.statutory_case_ids == ()
        assert "case_date_unreadable" in answer.reasons
        assert "CIN-OKON2" in answer.explanation and "case.closed_on" in answer.explanation
        assert "31/10/2021" not in answer.explanation
    finally:
        store.engine.dispose()

"""CaseStore: logical queries compile to each store's own tables, columns and codes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from governance.config import StoreConfig
from governance.errors import MappingError, StoreUnavailable
from governance.stores.store import CaseStore


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_insert_and_select_in_logical_names(db_url, mapping):
    store = CaseStore.open(StoreConfig("t", db_url, mapping))
    store.create_schema()
    store.check_schema()
    with store.engine.begin() as conn:
        store.insert(conn, "person", [
            {"id": "P1", "family_id": "F1", "role": "subject_child", "given_name": "Ava", "family_name": "Test"},
            {"id": "P2", "family_id": "F1", "role": "professional", "given_name": "Kwame", "family_name": "Test"},
        ])
    with store.engine.connect() as conn:
        rows = conn.execute(store.select("person", ["id", "role"]).order_by(store.raw("person", "id"))).all()
        professionals = conn.execute(
            store.select("person", ["id"]).where(store.is_("person", "role", "professional"))).scalars().all()
        stored = conn.execute(sa.select(store.raw("person", "role")).order_by(store.raw("person", "id"))).scalars().all()
    assert [tuple(r) for r in rows] == [("P1", "subject_child"), ("P2", "professional")]
    assert professionals == ["P2"]
    expected = ["CHILD", "WORKER"] if mapping == "homestart" else ["subject_child", "professional"]
    assert stored == expected


def test_unknown_stored_code_passes_through_for_quality_checks(sqlite_url):
    store = CaseStore.open(StoreConfig("t", sqlite_url, "homestart"))
    store.create_schema()
    with store.engine.begin() as conn:
        conn.execute(store.table("person").insert(), [{"ContactRef": "P9", "ContactType": "ALIEN", "FirstName": "x", "Surname": "y"}])
        role = conn.execute(store.select("person", ["role"])).scalar_one()
    assert role == "ALIEN"


def test_check_schema_names_missing_table_and_column(sqlite_url):
    store = CaseStore.open(StoreConfig("t", sqlite_url, "reference"))
    store.create_schema()
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE file_access_log"))
    with pytest.raises(MappingError, match=r"table 'file_access_log' \(entity access_log\) does not exist"):
        store.check_schema()
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE casenotes"))
        conn.execute(sa.text("CREATE TABLE casenotes (casenote_id TEXT PRIMARY KEY)"))
    store2 = CaseStore.open(StoreConfig("t", sqlite_url, "reference"))
    with pytest.raises(MappingError, match=r"column casenotes\.case_id \(entity casenote, field case_id\) does not exist"):
        store2.check_schema()


def test_unreachable_database_is_one_clear_line():
    store = CaseStore.open(StoreConfig("t", "postgresql+psycopg://nobody@127.0.0.1:9/none", "reference"))
    with pytest.raises(StoreUnavailable) as caught:
        store.check_schema()
    assert "127.0.0.1:9" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_rows_with_different_keys_keep_every_value(sqlite_url):
    """An executemany takes its columns from the first row; later rows must not lose values."""
    store = CaseStore.open(StoreConfig("t", sqlite_url, "reference"))
    store.create_schema()
    with store.engine.begin() as conn:
        store.insert(conn, "person", [
            {"id": "P1", "role": "professional", "given_name": "a", "family_name": "b"},
            {"id": "P2", "role": "parent_carer", "given_name": "c", "family_name": "d", "phone": "07700 900123"},
        ])
        phone = conn.execute(sa.select(store.raw("person", "phone")).where(store.raw("person", "id") == "P2")).scalar_one()
    assert phone == "07700 900123"


def test_insert_rejects_unknown_fields(sqlite_url):
    store = CaseStore.open(StoreConfig("t", sqlite_url, "reference"))
    store.create_schema()
    with store.engine.begin() as conn, pytest.raises(MappingError, match=r"no field\(s\) \['shoe_size'\]"):
        store.insert(conn, "person", [{"id": "P1", "role": "professional", "given_name": "a", "family_name": "b", "shoe_size": 9}])


def test_value_problems_are_counted_per_column_by_the_jobs_reading_rule(sqlite_url):
    """A legacy store's values as typed by hand: counts per column and problem, never the values."""
    store = CaseStore.open(StoreConfig("t", sqlite_url, "reference"))
    store.create_schema()
    people = sa.table("people", *[sa.column(c) for c in ("person_id", "role", "given_name", "family_name",
                                                         "date_of_birth", "research_opt_out")])
    cases = sa.table("cases", *[sa.column(c) for c in ("case_id", "family_id", "case_type", "status", "opened_on",
                                                       "closed_on")])
    with store.engine.begin() as conn:
        conn.execute(people.insert(), [
            {"person_id": "P1", "role": "subject_child", "given_name": "Maya", "family_name": "Okafor",
             "date_of_birth": "2012-04-17", "research_opt_out": 0},
            {"person_id": "P2", "role": "parent_carer", "given_name": "Grace", "family_name": "Okafor",
             "date_of_birth": "17/04/1985", "research_opt_out": "maybe"},           # day-first: never guessed
            {"person_id": "P3", "role": "lodger", "given_name": "Tom", "family_name": "Reilly",
             "date_of_birth": "1990-02-30", "research_opt_out": "Y"},               # no such day; Y is readable
        ])
        conn.execute(cases.insert(), [
            {"case_id": "C1", "family_id": "F1", "case_type": "early_help", "status": "closed",
             "opened_on": "2019-03-04", "closed_on": "2021-06-30 14:05:00"},
            {"case_id": "C2", "family_id": "F1", "case_type": "early_help", "status": "shut",
             "opened_on": "2019-03-04T09:00:00Z", "closed_on": "0000-00-00"},
        ])
    with store.engine.connect() as conn:  # a duplicated key, as a store without constraints can hold
        conn.exec_driver_sql("DROP TABLE families")
        conn.exec_driver_sql("CREATE TABLE families (family_id TEXT, household_name TEXT, address TEXT, postcode TEXT)")
        conn.exec_driver_sql("INSERT INTO families VALUES ('F1', 'x', NULL, NULL), ('F1', 'y', NULL, NULL), "
                             "(NULL, 'z', NULL, NULL)")
        conn.commit()
    found = {(p.table, p.column, p.problem): p.count for p in store.value_problems()}
    assert found == {
        ("people", "date_of_birth", "unreadable_date"): 2,
        ("people", "research_opt_out", "unreadable_bool"): 1,
        ("people", "role", "unknown_code"): 1,
        ("cases", "status", "unknown_code"): 1,
        ("cases", "closed_on", "unreadable_date"): 1,
        ("families", "family_id", "missing_id"): 1,
        ("families", "family_id", "duplicate_id"): 1,
    }
    described = " ".join(p.describe() for p in store.value_problems())
    assert "17/04/1985" not in described and "Grace" not in described and "shut" not in described


def test_value_problems_on_typed_columns(db_url):
    """On typed columns (PostgreSQL DATE/BOOLEAN) dates and booleans always read; codes still count."""
    store = CaseStore.open(StoreConfig("t", db_url, "homestart"))
    store.create_schema()
    assert store.schema_problems() == [] and store.value_problems() == []
    with store.engine.begin() as conn:
        store.insert(conn, "person", [
            {"id": "P1", "role": "subject_child", "given_name": "Ava", "family_name": "Test", "research_opt_out": True},
            {"id": "P2", "role": "ALIEN", "given_name": "Kwame", "family_name": "Test"},
        ])
    problems = store.value_problems()
    assert [(p.entity, p.field, p.problem, p.count) for p in problems] == [("person", "role", "unknown_code", 1)]
    store.engine.dispose()

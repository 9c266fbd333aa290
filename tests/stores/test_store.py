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

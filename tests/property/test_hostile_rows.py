"""Hostile rows in a case store: every job excludes or quarantines them cleanly, none destroys them.

A legacy store without keys or constraints (as real case-management databases
often are) holds one clean family whose case is due, and one family whose case
has been made hostile by a generated list of changes: dates the platform cannot
read, rows with NULL ids, duplicated keys, unknown codes and unreadable yes/no
values, 10 KB, emoji and SQL-metacharacter names and ids. Then the jobs run as
the DAGs run them: data quality, sharing compliance, the retention sweep (plan,
batch, approve, execute, verify), and an access request's discovery for the
hostile child.

Properties:

* no job raises anything but the platform's own one-line errors (and the jobs
  here raise none: hostile rows are data, not errors);
* a case with an invalid value (unreadable date or yes/no, NULL or duplicated id,
  unknown code) is never destroyed or anonymised: every one of its rows is still
  there, byte for byte;
* the clean case is still destroyed on schedule (the hostile rows did not stop the sweep);
* the store's tables all survive SQL metacharacters.

On SQLite every kind of value can be stored in any column; on PostgreSQL dates
and booleans are typed, so there the hostile dates are absurd real dates
(year 1, year 9999) instead of unreadable text.
"""

from __future__ import annotations

import itertools
import os
from datetime import date

import pytest
import sqlalchemy as sa
from hypothesis import event, given
from hypothesis import strategies as st

from governance.config import Settings, StoreConfig
from governance.errors import GovernanceError
from governance.stores.store import CaseStore
from governance.stores.values import UNREADABLE, read_bool, read_date
from tests.property.conftest import examples

AS_OF = date(2026, 6, 30)
_serial = itertools.count(1)

SQL_META = ["x'); DROP TABLE cases;--", 'a"b', "100%_off", "back\\slash", "semi;colon", "O'Brien"]
ODD_TEXT = st.one_of(
    st.sampled_from(["🦄🧒🏽", "Zoë Ünal", "x" * 10_240, "\u202eevil", "   ", *SQL_META]),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40),
)
BAD_DATE_TEXT = st.one_of(
    st.sampled_from(["30/06/2021", "0000-00-00", "2021-02-30", "not a date", "", "2021-13-01", "20210630", "🦄"]),
    st.text(max_size=12).filter(lambda t: "\x00" not in t),
)
ABSURD_DATES = st.sampled_from([date(1, 1, 1), date(9999, 12, 31), date(2099, 1, 1), date(1900, 1, 1)])
BAD_BOOL = st.sampled_from(["maybe", "2", "-1", "ja", "", "🦄"])
DATE_FIELDS = [("case", "closed_on"), ("case", "opened_on"), ("case", "last_activity_on"),
               ("person", "date_of_birth"), ("casenote", "written_on"), ("document", "created_on")]
CODE_FIELDS = [("case", "case_type"), ("case", "status"), ("person", "role"), ("case_member", "role")]


def mutations(dialect: str):
    date_value = BAD_DATE_TEXT if dialect == "sqlite" else ABSURD_DATES
    one = st.one_of(
        st.tuples(st.just("date"), st.sampled_from(DATE_FIELDS), date_value),
        st.tuples(st.just("null_id"), st.sampled_from(["casenote", "case_member", "document"]), st.none()),
        st.tuples(st.just("duplicate"), st.sampled_from(["case", "casenote", "person"]), st.none()),
        st.tuples(st.just("name"), st.sampled_from([("person", "given_name"), ("family", "household_name"),
                                                    ("casenote", "body")]), ODD_TEXT),
        st.tuples(st.just("code"), st.sampled_from(CODE_FIELDS), ODD_TEXT.filter(bool)),
        *([st.tuples(st.just("bool"), st.just(("case", "csa_relevant")), BAD_BOOL)] if dialect == "sqlite" else []),
    )
    return st.lists(one, min_size=1, max_size=4)


def _legacy_store(url: str) -> CaseStore:
    """The reference mapping over tables with no primary keys and every column nullable."""
    store = CaseStore.open(StoreConfig("default", url, "reference"))
    loose = sa.MetaData()
    for table in store.metadata.tables.values():
        # Legacy stores hold unbounded text: a 10 KB name must reach the platform, not stop at the test's own schema.
        sa.Table(table.name, loose, *[sa.Column(c.name, sa.Text() if isinstance(c.type, sa.String) else c.type,
                                                nullable=True) for c in table.columns])
    loose.create_all(store.engine)
    return store


def _put(conn, store: CaseStore, entity: str, row: dict) -> None:
    """Insert a row as stored, bypassing type conversion (a legacy store holds whatever was typed)."""
    mapped = store.mapping.entity(entity)
    physical = {mapped.column(k): store.encode(entity, k, v) for k, v in row.items()}
    table = sa.table(store.table(entity).name, *[sa.column(c) for c in physical])
    conn.execute(table.insert().values(physical))


def _family(conn, store: CaseStore, prefix: str, case_id: str | None = None) -> dict:
    ids = {k: f"{prefix}{k}" for k in ("F", "C", "P", "Q", "M1", "M2", "N", "D")}
    if case_id is not None:
        ids["C"] = case_id
    _put(conn, store, "family", {"id": ids["F"], "household_name": "Fictional household"})
    _put(conn, store, "person", {"id": ids["P"], "family_id": ids["F"], "role": "subject_child", "given_name": "Alex",
                                 "family_name": "Testfamily", "date_of_birth": date(1996, 5, 1)})
    _put(conn, store, "person", {"id": ids["Q"], "family_id": ids["F"], "role": "parent_carer", "given_name": "Sam",
                                 "family_name": "Testfamily", "date_of_birth": date(1975, 3, 3)})
    _put(conn, store, "case", {"id": ids["C"], "family_id": ids["F"], "case_type": "early_help", "status": "closed",
                               "opened_on": date(2012, 1, 5), "closed_on": date(2014, 1, 10),
                               "closure_reason": "needs met", "last_activity_on": date(2014, 1, 10),
                               "csa_relevant": False})
    _put(conn, store, "case_member", {"id": ids["M1"], "case_id": ids["C"], "person_id": ids["P"], "role": "subject_child"})
    _put(conn, store, "case_member", {"id": ids["M2"], "case_id": ids["C"], "person_id": ids["Q"], "role": "parent_carer"})
    _put(conn, store, "casenote", {"id": ids["N"], "case_id": ids["C"], "written_on": date(2013, 2, 1),
                                   "title": "Home visit", "body": "Fictional note: family seen at home, plan agreed."})
    _put(conn, store, "document", {"id": ids["D"], "case_id": ids["C"], "object_key": f"none/{prefix}.txt",
                                   "title": "Assessment", "created_on": date(2013, 2, 1)})
    return ids


def _apply(conn, store: CaseStore, ids: dict, mutation) -> bool:
    """Apply one change to the hostile family; True if it makes a value invalid (the case must then survive)."""
    kind, target, value = mutation
    owner = {"case": ids["C"], "person": ids["P"], "casenote": ids["N"], "document": ids["D"], "family": ids["F"],
             "case_member": ids["M1"]}
    if kind in ("date", "name", "code", "bool"):
        entity, field = target
        table = store.table(entity)
        id_column = table.c[store.mapping.entity(entity).column("id")]
        column = store.mapping.entity(entity).column(field)
        raw = sa.table(table.name, sa.column(column), sa.column(id_column.name))
        conn.execute(raw.update().where(sa.column(id_column.name) == owner[entity]).values({column: value}))
        if kind == "date":
            return read_date(value) is UNREADABLE
        if kind == "bool":
            return read_bool(value) is UNREADABLE
        if kind == "code":
            codes = store.mapping.entity(entity).values.get(field) or {}
            vocabulary = store.mapping.entity(entity) and __import__("governance.stores.model", fromlist=["ENTITIES"]) \
                .ENTITIES[entity].field(field).vocabulary
            return value not in set(codes.values()) | set(vocabulary)
        return False
    if kind == "null_id":
        extra = {"casenote": {"id": None, "case_id": ids["C"], "written_on": date(2013, 3, 1), "title": "t", "body": "b"},
                 "case_member": {"id": None, "case_id": ids["C"], "person_id": ids["P"], "role": "family_member"},
                 "document": {"id": None, "case_id": ids["C"], "object_key": "none/x", "title": "t",
                              "created_on": date(2013, 3, 1)}}[target]
        _put(conn, store, target, extra)
        return False  # the case's facts are intact: a due case goes whole, the id-less row with it (checked below)
    # duplicate: a second row under the same id, with different content
    twin = {"case": {"id": ids["C"], "family_id": ids["F"], "case_type": "child_protection", "status": "open",
                     "opened_on": date(2020, 1, 1)},
            "casenote": {"id": ids["N"], "case_id": ids["C"], "written_on": date(2013, 2, 2), "title": "Second",
                         "body": "A second note under the same id."},
            "person": {"id": ids["P"], "family_id": ids["F"], "role": "subject_child", "given_name": "Twin",
                       "family_name": "Testfamily", "date_of_birth": date(1997, 1, 1)}}[target]
    _put(conn, store, target, twin)
    return True


def _rows_of_case(store: CaseStore, case_id: str) -> list:
    with store.engine.connect() as conn:
        out = []
        for entity in ("case", "casenote", "document", "case_member"):
            table = store.table(entity)
            key = store.raw(entity, "id" if entity == "case" else "case_id")
            raw = sa.select(*[sa.type_coerce(c, sa.types.NullType()) for c in table.columns]).where(key == case_id)
            out.append(sorted(repr(tuple(r)) for r in conn.execute(raw)))
        return out


def _run_jobs(settings: Settings, hostile_child: str, run: int, changes=()) -> list[str]:
    """Every job, each on its own (as separate DAG tasks are); returns the one-line refusals met."""
    from governance.jobs import quality, retention, sar, sharing

    refusals: list[str] = []

    def job(name, call):
        try:
            return call()
        except GovernanceError as error:  # a clean refusal: one line, nothing done
            assert "\n" not in str(error), str(error)
            refusals.append(f"{name}: {type(error).__name__}")
            return None

    job("quality", lambda: quality.validate_store(settings, store="default", as_of=AS_OF, run_id=f"prop-{run}",
                                                  publish=False, max_quarantined_share=1.0))
    job("sharing", lambda: sharing.check_store(settings, store="default", as_of=AS_OF, run_id=f"prop-{run}",
                                               actor="test:property"))
    job("retention plan", lambda: retention.plan(settings, "default", as_of=AS_OF))
    proposed = job("retention propose", lambda: retention.propose(settings, "default", as_of=AS_OF,
                                                                  created_by="ig.officer"))
    if proposed and proposed["batch_id"]:
        batch = proposed["batch_id"]
        job("retention approve", lambda: retention.approve(settings, batch, approved_by="ig.manager"))
        job("retention execute", lambda: retention.execute_all(settings, batch, as_of=AS_OF, actor="ig.manager"))
        job("retention verify", lambda: retention.verify(settings, batch, actor="ig.manager"))
    lodged = job("sar lodge", lambda: sar.lodge_request(settings, store="default", subject_person_id=hostile_child,
                                                        received_on=AS_OF, actor="test:property",
                                                        request_id=f"sar-prop-{run}"))
    if lodged:
        job("sar discover", lambda: sar.discover_request(settings, lodged["request_id"]))
    return refusals


def _hostile_rows_property(db_url: str, tmp_path, dialect: str) -> None:
    settings = Settings(home=tmp_path, stores=(StoreConfig("default", db_url, "reference"),), ledger_url=db_url,
                        objects_url=(tmp_path / "objects").as_uri(), keys_dir=tmp_path / "keys")
    store = _legacy_store(db_url)

    @examples(ci_default=3)
    @given(changes=mutations(dialect), hostile_id=st.one_of(st.just(""), st.sampled_from(SQL_META + ["🦄-"])))
    def prop(changes, hostile_id):
        run = next(_serial)
        with store.engine.begin() as conn:
            for table in store.metadata.sorted_tables:
                conn.execute(sa.table(table.name).delete())
            clean = _family(conn, store, f"clean{run}-")
            hostile = _family(conn, store, f"H{run}-", case_id=f"{hostile_id}H{run}-C")
            invalid = [_apply(conn, store, hostile, change) for change in changes]
        before = _rows_of_case(store, hostile["C"])
        refusals = _run_jobs(settings, hostile["P"], run, changes)
        for refusal in refusals:
            event(f"refused in one line: {refusal}")
        with store.engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names())
        assert {t.name for t in store.metadata.sorted_tables} <= tables  # metacharacters dropped nothing
        after = _rows_of_case(store, hostile["C"])
        if any(invalid):
            assert after == before, f"case with invalid values was changed: {changes}"
        else:  # untouched, or destroyed completely: never half a case
            assert after == before or after[0] == [] and after[1] == after[2] == [], changes
        if not any(r.startswith("retention") for r in refusals):
            assert _rows_of_case(store, clean["C"])[0] == [], "the clean, due case was not destroyed"

    prop()


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_hostile_rows_are_excluded_never_destroyed(dialect, tmp_path, request, monkeypatch):
    for key in list(os.environ):
        if key.startswith("GOVERNANCE_"):
            monkeypatch.delenv(key)
    db_url = request.getfixturevalue("sqlite_url" if dialect == "sqlite" else "postgres_url")
    _hostile_rows_property(db_url, tmp_path, dialect)

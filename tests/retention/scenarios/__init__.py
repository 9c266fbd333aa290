"""A hand-written scenario store: a records manager's edge cases, one retention rule per case.

Not the generator: every household, case and note in :mod:`.records` was
written by hand, in the voice of early-help and social-work records, with the
outcome each case must have as of :data:`AS_OF` written beside it and derived
from ``/work/shared/domain.md`` (see the comment on each scenario).

:func:`load` writes the rows through the reference mapping
(:meth:`CaseStore.insert`), then places the holds, access requests and
quarantine rows the scenarios call for. Dates a real case-management system
stores as text or timestamps (``'2021-06-30 00:00:00'``, ``'30/06/2021'``,
``'0000-00-00'``) are written as the raw value after the insert. On PostgreSQL,
where a DATE column cannot hold text, the columns they sit in are altered
first: ``cases.closed_on``, ``people.date_of_birth`` and ``casenotes.written_on``
become TEXT, ``cases.opened_on`` TIMESTAMP, so both databases are tested with
typed and text date columns (SQLite keeps whatever it is given in a DATE column).
All names, addresses, phone numbers (01632 960xxx) and e-mails (example.org) are fictional.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa

from governance.quality.tables import quarantine
from governance.retention.holds import place_hold
from governance.sar.tables import requests
from governance.stores.store import CaseStore
from tests.retention.scenarios.records import AS_OF, SCENARIOS, Expect, Scenario

__all__ = ["AS_OF", "SCENARIOS", "Expect", "Scenario", "load", "expected", "TEXT_COLUMNS", "TIMESTAMP_COLUMNS"]

# Physical columns of the reference schema stored as text / timestamps on PostgreSQL.
TEXT_COLUMNS = (("cases", "closed_on"), ("people", "date_of_birth"), ("casenotes", "written_on"))
TIMESTAMP_COLUMNS = (("cases", "opened_on"),)


def expected() -> dict[str, Expect]:
    """case id -> what the plan must say about it."""
    return {case_id: e for s in SCENARIOS for case_id, e in s.expect.items()}


def load(store: CaseStore, state: sa.Engine) -> dict[str, str]:
    """Write every scenario into ``store`` (and its holds, requests, quarantine into ``state``).

    Returns hold names -> hold ids, so a test can name the hold it expects.
    """
    store.create_schema()
    _legacy_cases_table(store)
    if store.engine.dialect.name == "postgresql":
        with store.engine.begin() as conn:
            for table, column in TEXT_COLUMNS:
                conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE text USING {column}::text")
            for table, column in TIMESTAMP_COLUMNS:
                conn.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE timestamp")
    rows: dict[str, list[dict]] = {}
    raw: list[tuple[str, str, str, str | None]] = []
    for s in SCENARIOS:
        for entity, row in s.rows():
            rows.setdefault(entity, []).append(row)
        raw.extend(s.raw_values())
    with store.engine.begin() as conn:
        for entity in ("family", "person", "case", "case_member", "casenote", "document", "consent",
                       "consent_opt_out", "sharing_record", "access_log"):
            store.insert(conn, entity, rows.get(entity, []))
        for entity, record_id, field, value in raw:
            column, key = store.raw(entity, field), store.raw(entity, "id")
            # Untyped (the driver's own string): what a legacy system or a hand-edited row holds.
            conn.execute(sa.update(store.table(entity)).where(key == record_id)
                         .values({column.name: sa.literal(value, sa.String()) if value is not None else None}))
    return _state_rows(state, store.name)


def _legacy_cases_table(store: CaseStore) -> None:
    """The cases table as a legacy system has it: no primary key, so a row can lack its id."""
    table = store.table("case")
    ddl = str(sa.schema.CreateTable(table).compile(dialect=store.engine.dialect))
    key = store.raw("case", "id").name
    ddl = ddl.replace(f"{key} VARCHAR(40) NOT NULL", f"{key} VARCHAR(40)")
    ddl = ddl.replace(f", \n\tPRIMARY KEY ({key})", "")
    assert "PRIMARY KEY" not in ddl, ddl
    with store.engine.begin() as conn:
        conn.exec_driver_sql(f"DROP TABLE {table.name}")
        conn.exec_driver_sql(ddl)
        for index in table.indexes:
            index.create(conn)
        conn.exec_driver_sql(f"CREATE INDEX ix_scenario_case_id ON {table.name} ({key})")


def _state_rows(state: sa.Engine, store_name: str) -> dict[str, str]:
    holds: dict[str, str] = {}
    now = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    for s in SCENARIOS:
        for name, hold in s.holds.items():
            placed = place_hold(state, store=store_name, placed_by="ig.records.manager", **hold.placement())
            if hold.lifted_on:
                from governance.retention.holds import lift_hold

                lift_hold(state, placed.hold_id, lifted_on=hold.lifted_on)
            holds[name] = placed.hold_id
        with state.begin() as conn:
            for n, (person, status) in enumerate(s.access_requests):
                conn.execute(requests.insert().values(
                    request_id=f"SAR-{s.key}-{n}", store=store_name, subject_person_id=person, status=status,
                    received_on=AS_OF.replace(day=1), created_at=now))
            for case_id, record_id, rule in s.quarantined:
                conn.execute(quarantine.insert().values(
                    store=store_name, entity="casenote", record_id=record_id, case_id=case_id, expectation=rule,
                    quarantined_at=now))
    return holds

"""``store check``'s findings: what in a store's database the platform cannot read, counted.

Two kinds of problem, both reported per physical column with a count and never a
value (a date of birth or a name must not reach a terminal or a log):

* **schema**: a mapped table or column the database does not have. Every job
  would fail on it, so ``store check`` names all of them at once.
* **values**: values present but unreadable as the field's logical type, judged
  by the same rule the jobs use (:mod:`governance.stores.values`): dates and
  booleans the platform cannot read, codes outside the field's vocabulary (or the
  mapping's ``[values]`` table), and missing or duplicated record ids. A record
  with such a value is excluded from every action by the jobs (quarantine,
  retention's exclusion reasons); ``store check`` shows how many there are before
  any job runs.

Each column is read as ``value, COUNT(*) ... GROUP BY value``: the database does
the counting, Python judges each distinct value once, raw (no type conversion,
so a SQLite DATE column holding ``30/06/2021`` is seen as it is stored).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa

from governance.stores.model import ENTITIES, FieldType
from governance.stores.values import UNREADABLE, read_bool, read_date

if TYPE_CHECKING:
    from governance.stores.store import CaseStore

__all__ = ["Problem", "schema_problems", "value_problems", "PROBLEMS"]

# Problem codes and what they mean (``store check`` prints the meaning).
PROBLEMS = {
    "table_missing": "mapped table does not exist",
    "column_missing": "mapped column does not exist",
    "unreadable_date": "values that are not a readable date",
    "unreadable_bool": "values that are not a readable yes/no",
    "unknown_code": "values outside the field's codes",
    "missing_id": "rows without an id",
    "duplicate_id": "ids held by more than one row (extra rows counted)",
}


@dataclass(frozen=True)
class Problem:
    """One problem in one place: entity/table, and column for column-level problems."""

    entity: str
    table: str
    column: str | None
    field: str | None
    problem: str
    count: int | None = None  # rows affected; None for schema problems

    def describe(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else repr(self.table)
        subject = f"entity {self.entity}" + (f", field {self.field}" if self.field else "")
        if self.problem == "table_missing":
            return f"table {where} ({subject}) does not exist"
        if self.problem == "column_missing":
            return f"column {where} ({subject}) does not exist"
        return f"{where} ({subject}): {self.count} {PROBLEMS[self.problem]}"

    def to_json(self) -> dict:
        return asdict(self)


def schema_problems(store: "CaseStore") -> list[Problem]:
    from governance.db import check_reachable

    check_reachable(store.engine)
    schema = store.mapping.schema
    inspector = sa.inspect(store.engine)
    existing = set(inspector.get_table_names(schema=schema))
    problems: list[Problem] = []
    for entity_name, table in store._tables.items():
        fields = {store.mapping.entity(entity_name).column(f): f for f in store.mapping.entity(entity_name).columns}
        if table.name not in existing:
            problems.append(Problem(entity_name, table.name, None, None, "table_missing"))
            continue
        present = {c["name"] for c in inspector.get_columns(table.name, schema=schema)}
        for column in table.columns:
            if column.name not in present:
                problems.append(Problem(entity_name, table.name, column.name, fields.get(column.name), "column_missing"))
    return problems


def value_problems(store: "CaseStore", *, skip: Iterable[Problem] = ()) -> list[Problem]:
    """Counted problems in the values of every mapped column (tables and columns in ``skip`` are passed over)."""
    missing_tables = {p.table for p in skip if p.problem == "table_missing"}
    missing_columns = {(p.table, p.column) for p in skip if p.problem == "column_missing"}
    problems: list[Problem] = []
    with store.engine.connect() as conn:
        for entity_name, mapped in store.mapping.entities.items():
            table = store.table(entity_name)
            if table.name in missing_tables:
                continue
            for f in ENTITIES[entity_name].fields:
                if not mapped.has(f.name) or (table.name, mapped.column(f.name)) in missing_columns:
                    continue
                column = table.c[mapped.column(f.name)]
                for code, count in _column_problems(conn, store, entity_name, f, column):
                    if count:
                        problems.append(Problem(entity_name, table.name, column.name, f.name, code, count))
    return problems


def _column_problems(conn: sa.Connection, store: "CaseStore", entity_name: str, f, column: sa.Column):
    if f.name == "id":
        total, distinct, nulls = conn.execute(sa.select(
            sa.func.count(), sa.func.count(sa.distinct(column)),
            sa.func.count().filter(column.is_(None)))).one()
        yield "missing_id", nulls
        yield "duplicate_id", (total - nulls) - distinct
        return
    judge = _judge(store, entity_name, f)
    if judge is None:
        return
    code, is_bad = judge
    # NullType: the raw stored value, no result processing (SQLAlchemy's Date would raise on bad text).
    raw = sa.type_coerce(column, sa.types.NullType())
    rows = conn.execute(sa.select(raw, sa.func.count()).where(column.is_not(None)).group_by(column))
    yield code, sum(count for value, count in rows if is_bad(value))


def _judge(store: "CaseStore", entity_name: str, f):
    if f.type in (FieldType.DATE, FieldType.DATETIME):
        return "unreadable_date", lambda value: read_date(value) is UNREADABLE
    if f.type is FieldType.BOOL:
        return "unreadable_bool", lambda value: read_bool(value) is UNREADABLE
    if f.vocabulary is not None:
        codes = store.mapping.entity(entity_name).values.get(f.name) or {}
        # A logical value without a code of its own is stored as itself (CaseStore.encode).
        allowed = set(codes.values()) | (set(f.vocabulary) - set(codes))
        return "unknown_code", lambda value: value not in allowed
    return None

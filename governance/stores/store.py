"""Access to one case store through its mapping.

:class:`CaseStore` builds SQLAlchemy ``Table`` objects from the mapping, so
every query the platform runs is written against logical names and compiled to
the store's own tables, columns and codes. Work stays set-based: callers get
``Select`` objects and column expressions, not ORM objects.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from governance.config import StoreConfig
from governance.db import check_reachable, make_engine, safe_url
from governance.errors import MappingError, StoreUnavailable
from governance.stores.mapping import StoreMapping, load_mapping
from governance.stores.model import ENTITIES, FieldType
from governance.stores.values import UNREADABLE, read_date

if TYPE_CHECKING:
    from governance.stores.checks import Problem

__all__ = ["CaseStore", "open_store"]

class _StoredDate(sa.types.TypeDecorator):
    """A DATE as real stores hold it: read by the one rule of :mod:`governance.stores.values`.

    SQLite's own ``Date`` raises on ``30/06/2021`` or ``2021-06-30 00:00:00``, and on
    PostgreSQL a TEXT column comes back as a string, so every typed read would fail or
    carry text. Here a readable value (DATE, DATETIME/TIMESTAMP, ISO text) becomes a
    ``date`` and an unreadable one ``None``: typed readers (access requests, sharing)
    treat it as not recorded, never crash on it. Retention and data quality read the
    raw column instead and exclude or quarantine the record (``UNREADABLE_DATE``).
    """

    impl = sa.Date
    cache_ok = True

    def result_processor(self, dialect, coltype):  # noqa: ANN001 - SQLAlchemy's signature
        def read(value: Any) -> Any:
            day = read_date(value)
            return None if day is UNREADABLE else day

        return read


class _StoredDateTime(sa.types.TypeDecorator):
    """A DATETIME/TIMESTAMP as stores hold it: a ``datetime``, ISO text parsed, anything else ``None``."""

    impl = sa.DateTime
    cache_ok = True

    def result_processor(self, dialect, coltype):  # noqa: ANN001
        def read(value: Any) -> Any:
            if value is None or isinstance(value, datetime):
                return value
            if read_date(value) is UNREADABLE:
                return None
            if isinstance(value, date):
                return datetime(value.year, value.month, value.day)
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
            try:
                return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
            except ValueError:
                return None

        return read


_SQL_TYPES = {
    FieldType.ID: lambda: sa.String(40),
    FieldType.TEXT: lambda: sa.String(400),
    FieldType.LONG_TEXT: lambda: sa.Text(),
    FieldType.DATE: lambda: _StoredDate(),
    FieldType.DATETIME: lambda: _StoredDateTime(),
    FieldType.BOOL: lambda: sa.Boolean(create_constraint=False),
}


class CaseStore:
    """One configured case store: its engine, mapping and mapped tables."""

    def __init__(self, name: str, mapping: StoreMapping, engine: Engine) -> None:
        self.name = name
        self.mapping = mapping
        self.engine = engine
        self.metadata = sa.MetaData(schema=mapping.schema)
        self._tables: dict[str, sa.Table] = {}
        for entity_name, mapped in mapping.entities.items():
            model = ENTITIES[entity_name]
            columns = [
                sa.Column(
                    mapped.column(f.name),
                    _SQL_TYPES[f.type](),
                    primary_key=(f.name == "id"),
                    nullable=(f.name != "id"),
                )
                for f in model.fields
                if mapped.has(f.name)
            ]
            table = sa.Table(mapped.table, self.metadata, *columns)
            # No foreign keys, on purpose: legacy case stores rarely enforce them,
            # and the quality checks must be able to see orphan rows. Indexes on
            # link columns keep set-based joins fast.
            for field_name in model.links:
                if mapped.has(field_name):
                    column = mapped.column(field_name)
                    sa.Index(f"ix_{mapped.table}_{column}".lower()[:60], table.c[column])
            self._tables[entity_name] = table

    # -- construction -----------------------------------------------------------------
    @classmethod
    def open(cls, config: StoreConfig) -> "CaseStore":
        return cls(config.name, load_mapping(config.mapping), make_engine(config.url))

    # -- names ------------------------------------------------------------------------
    def has(self, entity: str) -> bool:
        return entity in self._tables

    def has_field(self, entity: str, field: str) -> bool:
        return self.has(entity) and self.mapping.entity(entity).has(field)

    def table(self, entity: str) -> sa.Table:
        try:
            return self._tables[entity]
        except KeyError:
            raise MappingError(f"store {self.name}: no {entity} table is mapped") from None

    def raw(self, entity: str, field: str) -> sa.Column:
        """The physical column, holding the store's own codes."""
        mapped = self.mapping.entity(entity)
        if not mapped.has(field):
            raise MappingError(f"store {self.name}: field {entity}.{field} is not mapped")
        return self.table(entity).c[mapped.column(field)]

    def column(self, entity: str, field: str) -> sa.ColumnElement[Any]:
        """The column as a logical value, labelled with the logical field name.

        Stored codes are translated with a CASE; an unknown code passes through
        unchanged so that quality checks can find it.
        """
        raw = self.raw(entity, field)
        codes = self.mapping.entity(entity).values.get(field)
        if not codes:
            return raw.label(field)
        return sa.case({stored: logical for logical, stored in codes.items()}, value=raw, else_=raw).label(field)

    def encode(self, entity: str, field: str, value: Any) -> Any:
        """A logical value as the store holds it."""
        codes = self.mapping.entity(entity).values.get(field)
        if codes and value is not None:
            return codes.get(value, value)
        return value

    def is_(self, entity: str, field: str, *logical_values: str) -> sa.ColumnElement[bool]:
        """``field IN values`` on the raw column, so indexes stay usable."""
        raw = self.raw(entity, field)
        stored = [self.encode(entity, field, v) for v in logical_values]
        return raw == stored[0] if len(stored) == 1 else raw.in_(stored)

    def select(self, entity: str, fields: Iterable[str] | None = None) -> sa.Select:
        """SELECT of logical fields (all mapped ones by default) from one entity."""
        mapped = self.mapping.entity(entity)
        names = [f for f in (fields or ENTITIES[entity].field_names) if fields is not None or mapped.has(f)]
        return sa.select(*(self.column(entity, f) for f in names))

    # -- schema -----------------------------------------------------------------------
    def create_schema(self) -> None:
        """Create the mapped tables (for generated and reference stores)."""
        try:
            if self.mapping.schema and self.engine.dialect.name == "postgresql":
                with self.engine.begin() as conn:
                    conn.execute(sa.schema.CreateSchema(self.mapping.schema, if_not_exists=True))
            self.metadata.create_all(self.engine)
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"store {self.name}: cannot create tables at {safe_url(str(self.engine.url))}") from exc

    def check_schema(self) -> None:
        """Check that every mapped table and column exists; raise MappingError naming the first missing."""
        problems = self.schema_problems()
        if problems:
            raise MappingError(f"store {self.name}: {problems[0].describe()}")

    def schema_problems(self) -> list["Problem"]:
        """Every mapped table and column the database lacks (all of them, for ``store check``)."""
        from governance.stores.checks import schema_problems

        return schema_problems(self)

    def value_problems(self, *, skip: Iterable["Problem"] = ()) -> list["Problem"]:
        """Counts of values that cannot be read as their logical type, per mapped column (never the values)."""
        from governance.stores.checks import value_problems

        return value_problems(self, skip=skip)

    # -- writing (generator, tests) ---------------------------------------------------
    def insert(self, conn: Connection, entity: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert rows given in logical names; codes are encoded for the store."""
        if not rows:
            return 0
        mapped = self.mapping.entity(entity)
        table = self.table(entity)
        coded = mapped.values
        # Every row gets every mapped column: an executemany takes its column list
        # from the first row, so a missing key would silently drop later values.
        fields = [f for f in ENTITIES[entity].field_names if mapped.has(f)]
        unknown = {k for row in rows for k in row} - set(ENTITIES[entity].field_names)
        if unknown:
            raise MappingError(f"store {self.name}: {entity} has no field(s) {sorted(unknown)}")
        physical_rows = []
        for row in rows:
            out = {}
            for field in fields:
                value = row.get(field)
                if field in coded and value is not None:
                    value = coded[field].get(value, value)
                out[mapped.column(field)] = value
            physical_rows.append(out)
        conn.execute(table.insert(), physical_rows)
        return len(physical_rows)

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                entity: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
                for entity, table in self._tables.items()
            }


def open_store(config: StoreConfig) -> CaseStore:
    return CaseStore.open(config)

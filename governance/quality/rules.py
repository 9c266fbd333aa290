"""The kinds of rule the suites in expectations/ are written with.

A rule is declared in logical names (entity, field, vocabulary value). For one
store it becomes a SQLAlchemy Core select of the failing records' identifiers
(``record_id``), built against the store's mapped tables, columns and codes,
compiled for its dialect and run by Great Expectations as an
``UnexpectedRowsExpectation`` over the entity's batch (see
:mod:`governance.quality.sql`). Declaring rules needs no GX import; building
them gets GX through ``env`` (see :mod:`governance.quality.suites`).

Why every rule is a select of identifiers, even "not null": the quarantine
needs the failing identifiers, and a select that returns *only* identifiers
means GX's results can never hold a failing value, a name or note text. (GX's
column expectations report failing rows by an index column that must have
the same name in every table of a checkpoint; case stores name their keys
differently.)

Each rule has a stable ``rule`` name (``<entity>.<field>.<check>``): quarantine
rows, ledger entries, reports and tests all use it. ``severity`` says what a
failure does: ``quarantine`` (the failing records are quarantined and kept out
of retention) or ``report`` (a finding, listed but not quarantined). A rule
whose fields the store does not map is skipped, and the run says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from datetime import datetime, time, timedelta
from typing import Any, Callable

import sqlalchemy as sa

from governance.quality import sql
from governance.stores.model import ENTITIES, FieldType
from governance.stores.store import CaseStore
from governance.stores.values_sql import unreadable_date

__all__ = [
    "QUARANTINE", "REPORT", "Rule", "missing_reason", "where_rule",
    "KeyPresent", "KeyUnique", "Present", "InVocabulary", "NotFuture", "PresentWhen", "NotBefore", "LinkResolves",
    "Readable",
]

QUARANTINE = "quarantine"
REPORT = "report"
_GX_SEVERITY = {QUARANTINE: "critical", REPORT: "warning"}

#: query(store, b, options) -> a select of ``record_id`` from the batch ``b``.
Query = Callable[[CaseStore, sa.FromClause, Any], sa.Select]


def missing_reason(store: CaseStore, needs: tuple[tuple[str, str], ...]) -> str | None:
    """Why a rule reading ``needs`` cannot run on ``store`` (first unmapped part), or None."""
    for entity, name in needs:
        if not store.has(entity):
            return f"entity {entity} is not mapped"
        if name and not store.has_field(entity, name):
            return f"field {entity}.{name} is not mapped"
    return None


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One check on the rows of one entity: a select of the failing rows' identifiers.

    ``fields`` are the batch fields the query needs mapped and ``also`` other
    (entity, field) pairs it needs; a query may read more where the store maps
    it (``store.has_field``).
    """

    entity: str
    check: str
    text: str
    query: Query
    fields: tuple[str, ...] = ()
    also: tuple[tuple[str, str], ...] = dc_field(default=())
    severity: str = QUARANTINE

    @property
    def rule(self) -> str:
        return f"{self.entity}.{self.check}"

    def needs(self) -> tuple[tuple[str, str], ...]:
        return (*((self.entity, f) for f in ("id", *self.fields)), *self.also)

    def sql(self, store: CaseStore, options: Any) -> str:
        """The rule's ``unexpected_rows_query`` for ``store``."""
        return sql.gx_query(store, lambda b: self.query(store, b, options), self.entity)

    def expectation(self, env: Any) -> Any:
        """The GX expectation for ``env.store``, tagged with the rule's name in ``meta``."""
        return env.gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=self.sql(env.store, env.options),
            description=self.text,
            meta={"rule": self.rule, "entity": self.entity, "severity": self.severity},
            severity=_GX_SEVERITY[self.severity],
        )


def where_rule(entity: str, check: str, text: str, fields: tuple[str, ...],
               condition: Callable[[Callable[[str], sa.ColumnElement], CaseStore, Any], sa.ColumnElement],
               severity: str = QUARANTINE) -> Rule:
    """A single-table rule: the rows of the batch where ``condition(column, store, options)`` holds."""

    def query(store: CaseStore, b: sa.FromClause, options: Any) -> sa.Select:
        def column(name: str) -> sa.ColumnElement:
            return sql.field(b, store, entity, name)

        return sa.select(column("id").label(sql.RECORD_ID)).select_from(b).where(condition(column, store, options))

    return Rule(entity=entity, check=check, text=text, query=query, fields=fields, severity=severity)


def KeyPresent(*, entity: str) -> Rule:  # noqa: N802 - the factories read as rule kinds
    """Every row has an identifier (a failing row has none, so it is counted as unidentified)."""
    return where_rule(entity, "id.present", f"every {entity} has an identifier", (),
                      lambda c, _s, _o: c("id").is_(None))


def Present(*, entity: str, field: str) -> Rule:  # noqa: N802
    return where_rule(entity, f"{field}.present", f"every {entity} has its {field}", (field,),
                      lambda c, _s, _o: c(field).is_(None))


def InVocabulary(*, entity: str, field: str) -> Rule:  # noqa: N802
    """Filled-in values are in the model's vocabulary, as the store codes it (unknown codes fail)."""
    vocabulary = ENTITIES[entity].field(field).vocabulary or ()

    def condition(c, store: CaseStore, _options):
        coded = sorted({store.encode(entity, field, value) for value in vocabulary})
        return sa.and_(c(field).is_not(None), c(field).not_in(coded))

    return where_rule(entity, f"{field}.in_vocabulary",
                      f"{entity}.{field} is one of the model's values (after the store's code translation)",
                      (field,), condition)


def Readable(*, entity: str, field: str) -> Rule:  # noqa: N802
    """A stored date the platform can read (governance.stores.values): typed, or ISO text of a real day.

    ``30/06/2021``, ``0000-00-00`` or free text in a date column would otherwise
    pass every comparison by accident of string order, and retention excludes such
    a case (``UNREADABLE_DATE``) without saying which record to mend.
    """
    return where_rule(entity, f"{field}.readable", f"{entity}.{field} is a date the platform can read", (field,),
                      lambda c, store, _o: unreadable_date(c(field), store.engine.dialect.name))


def NotFuture(*, entity: str, field: str) -> Rule:  # noqa: N802
    """Not after ``as_of``; for a timestamp, any time on the as-of day is allowed."""
    timestamp = ENTITIES[entity].field(field).type is FieldType.DATETIME

    def condition(c, _store, options):
        if timestamp:
            return c(field) >= datetime.combine(options.as_of + timedelta(days=1), time())
        return c(field) > options.as_of

    return where_rule(entity, f"{field}.not_in_future", f"{entity}.{field} is not after the as-of date", (field,), condition)


def PresentWhen(*, entity: str, field: str, when: str, value: Any, label: str) -> Rule:  # noqa: N802
    """``field`` is filled in on every row where ``when`` holds ``value`` (a logical value, or True)."""

    def condition(c, store: CaseStore, _options):
        stored = value if isinstance(value, bool) else store.encode(entity, when, value)
        return sa.and_(c(when) == stored, c(field).is_(None))

    return where_rule(entity, f"{field}.present_when_{label}",
                      f"a {entity} that is {label.replace('_', ' ')} has its {field}", (field, when), condition)


def NotBefore(*, entity: str, field: str, other: str) -> Rule:  # noqa: N802
    """``field`` is on or after ``other`` wherever both are filled in."""
    return where_rule(entity, f"{field}.not_before_{other}", f"{entity}.{field} is on or after {other}", (field, other),
                      lambda c, _s, _o: sa.and_(c(field).is_not(None), c(other).is_not(None), c(field) < c(other)))


def KeyUnique(*, entity: str) -> Rule:  # noqa: N802
    """No two rows share an identifier (every row of a shared identifier fails)."""

    def query(store: CaseStore, b: sa.FromClause, _options: Any) -> sa.Select:
        own = store.raw(entity, "id")
        shared = sa.select(own.label("id")).group_by(own).having(sa.func.count() > 1).subquery("d")
        record_id = sql.field(b, store, entity, "id")
        return sa.select(record_id.label(sql.RECORD_ID)).select_from(b.join(shared, shared.c.id == record_id))

    return Rule(entity=entity, check="id.unique", text=f"no two {entity} rows share an identifier", query=query)


def LinkResolves(*, entity: str, field: str) -> Rule:  # noqa: N802
    """Every filled-in ``entity.field`` names an existing row of the entity it links to."""
    target = ENTITIES[entity].links[field]

    def query(store: CaseStore, b: sa.FromClause, _options: Any) -> sa.Select:
        parent = store.table(target).alias("t")
        link = sql.field(b, store, entity, field)
        parent_id = sql.field(parent, store, target, "id")
        return (sa.select(sql.field(b, store, entity, "id").label(sql.RECORD_ID))
                .select_from(b.outerjoin(parent, parent_id == link))
                .where(link.is_not(None), parent_id.is_(None)))

    return Rule(entity=entity, check=f"{field}.resolves", text=f"every {entity}.{field} names an existing {target}",
                query=query, fields=(field,), also=((target, "id"),))

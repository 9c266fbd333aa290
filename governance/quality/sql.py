"""Rule SQL, generated from the mapping and handed to GX's ``UnexpectedRowsExpectation``.

A rule is a SQLAlchemy Core select of failing identifiers written against a
stand-in for the batch (a sentinel table with the entity's mapped columns)
and the store's other mapped tables; it is compiled for the store's dialect
with its codes and dates inlined, and the sentinel is then replaced by GX's
``{batch}`` placeholder. GX substitutes the batch (the entity's whole table)
as a parenthesised subquery: bare when the query has a JOIN, so the rule
gives it the alias ``b``; with GX's own alias ``subselect`` otherwise, so a
single-table rule is built against that name.

Every query returns one column, ``record_id``: GX's results, the quarantine
and the ledger hold identifiers, never a value.
"""

from __future__ import annotations

import re
from typing import Callable

import sqlalchemy as sa

from governance.errors import ConfigError
from governance.stores.store import CaseStore

__all__ = ["RECORD_ID", "batch", "field", "compile_sql", "gx_query", "has_join"]

#: Label of the identifier column every rule query returns.
RECORD_ID = "record_id"
_SENTINEL = "gx_quality_batch"
_JOIN_ALIAS = "b"
_GX_ALIAS = "subselect"  # what GX names the batch when the query has no JOIN
_JOIN = re.compile(r"\bJOIN\b", re.IGNORECASE)
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


def batch(store: CaseStore, entity: str, alias: str = _JOIN_ALIAS) -> sa.Alias:
    """The batch of ``entity`` as a FROM item, with the mapped columns and their types."""
    table = store.table(entity)
    return sa.table(_SENTINEL, *(sa.column(c.name, c.type) for c in table.columns)).alias(alias)


def field(relation: sa.FromClause, store: CaseStore, entity: str, name: str) -> sa.ColumnElement:
    """A logical field of ``entity`` on ``relation`` (the batch or an alias of the mapped table)."""
    return relation.c[store.raw(entity, name).name]


def compile_sql(store: CaseStore, statement: sa.ClauseElement) -> str:
    """``statement`` as SQL text for the store's dialect, literals inlined (codes and dates only)."""
    return str(statement.compile(dialect=store.engine.dialect, compile_kwargs={"literal_binds": True}))


def has_join(sql_text: str) -> bool:
    """Whether the SQL joins, ignoring quoted names, literals and comments (as GX decides it)."""
    return bool(_JOIN.search(_QUOTED.sub(" ", sql_text)))


def gx_query(store: CaseStore, build: Callable[[sa.FromClause], sa.Select], entity: str) -> str:
    """A rule's select as an ``unexpected_rows_query``: braces escaped, the batch as ``{batch}``."""
    text = compile_sql(store, build(batch(store, entity, _JOIN_ALIAS)))
    if has_join(text):
        placeholder, replacement = f"{_SENTINEL} AS {_JOIN_ALIAS}", "{batch} AS " + _JOIN_ALIAS
    else:
        text = compile_sql(store, build(batch(store, entity, _GX_ALIAS)))
        placeholder, replacement = f"{_SENTINEL} AS {_GX_ALIAS}", "{batch}"
    if text.count(placeholder) != 1:
        raise ConfigError(f"store {store.name}: a rule on {entity} must read its batch exactly once")
    return text.replace("{", "{{").replace("}", "}}").replace(placeholder, replacement)

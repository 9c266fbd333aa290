"""Reading a study's population out of a case store, as a stream of Arrow tables.

One SQL query per extract, written in logical names through the store's
mapping (so Mosaic-, LiquidLogic- or charity-shaped stores work alike): case
memberships of the population roles, joined to the person and the case, with
research opt-outs excluded in SQL, ordered by person so disclosure counting can
work in one pass. Rows are fetched ``batch_rows`` at a time with a server-side
cursor and turned into Arrow columns; nothing here holds more than one batch.

Opt-outs (``person.research_opt_out``): with scope ``family`` (the default) a
row is dropped when anyone in the person's household, or in the case's
household, opted out; with scope ``person`` only the person's own opt-out
counts. Either way an opted-out person never appears. A store that does not
map the opt-out field cannot be used by a study that excludes opt-outs.
"""

from __future__ import annotations

from typing import Iterator

import pyarrow as pa
import sqlalchemy as sa

from governance.research.catalogue import FIELDS, Kind
from governance.research.errors import ResearchError, SpecError
from governance.research.spec import StudySpec
from governance.stores.store import CaseStore

__all__ = ["extract_query", "stream_population", "raw_type"]

_RAW_TYPES = {Kind.BIRTH_DATE: pa.date32(), Kind.DATE: pa.date32(), Kind.FLAG: pa.bool_(), Kind.COUNT: pa.int64()}


def raw_type(kind: Kind) -> pa.DataType:
    """The Arrow type a field arrives in from the store, before generalisation."""
    return _RAW_TYPES.get(kind, pa.string())


def _opt_out_filters(store: CaseStore, spec: StudySpec) -> list[sa.ColumnElement[bool]]:
    if not spec.exclude_opted_out:
        return []
    if not store.has_field("person", "research_opt_out"):
        raise SpecError(f"study {spec.study_id}: store {store.name} does not map person.research_opt_out, "
                        "so opted-out families cannot be excluded")
    column = store.raw("person", "research_opt_out")
    opted = store.encode("person", "research_opt_out", True)
    filters: list[sa.ColumnElement[bool]] = [sa.or_(column.is_(None), column != opted)]
    if spec.opt_out_scope == "family":
        if not store.has_field("person", "family_id"):
            raise SpecError(f"study {spec.study_id}: store {store.name} does not map person.family_id, so "
                            "family-level opt-outs cannot be applied (use opt_out_scope = \"person\")")
        other = store.table("person").alias("opted_out")
        other_opt, other_family = other.c[column.name], other.c[store.raw("person", "family_id").name]
        for household in (store.raw("person", "family_id"), store.raw("case", "family_id")):
            filters.append(~sa.exists().where(other_family == household, other_opt == opted))
    return filters


def extract_query(store: CaseStore, spec: StudySpec) -> sa.Select:
    """The population query: one row per membership, columns named by extract field, ordered by person."""
    extract = spec.extract
    person_id, member_person = store.raw("person", "id"), store.raw("case_member", "person_id")
    case_id, member_case = store.raw("case", "id"), store.raw("case_member", "case_id")
    columns: list[sa.ColumnElement] = []
    joined = store.table("case_member").join(store.table("person"), person_id == member_person).join(
        store.table("case"), case_id == member_case)
    for name in extract.output_fields():
        source = FIELDS[name]
        if name == "casenote_count":
            note_case = store.raw("casenote", "case_id")
            counts = sa.select(note_case.label("case_id"), sa.func.count().label("n")).group_by(note_case).subquery()
            joined = joined.outerjoin(counts, counts.c.case_id == case_id)
            columns.append(sa.func.coalesce(counts.c.n, 0).label(name))
        else:
            columns.append(store.column(source.entity, source.field).label(name))
    where = [store.is_("case_member", "role", *extract.population), *_opt_out_filters(store, spec)]
    if extract.case_types:
        where.append(store.is_("case", "case_type", *extract.case_types))
    return sa.select(*columns).select_from(joined).where(*where).order_by(person_id, case_id)


def stream_population(store: CaseStore, spec: StudySpec, batch_rows: int) -> Iterator[pa.Table]:
    """The population as Arrow tables of at most ``batch_rows`` rows, grouped by person."""
    names = spec.extract.output_fields()
    types = [raw_type(FIELDS[n].kind) for n in names]
    query = extract_query(store, spec)
    with store.engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch_rows).execute(query)
        for rows in result.partitions():
            yield _to_arrow(names, types, rows)


def _to_arrow(names: tuple[str, ...], types: list[pa.DataType], rows: list) -> pa.Table:
    columns = list(zip(*rows))
    arrays = []
    for name, type_, values in zip(names, types, columns):
        try:
            arrays.append(pa.array(values, type=type_))
        except (pa.ArrowException, TypeError, ValueError):
            # Arrow's message quotes the offending value: never let it out.
            raise ResearchError(f"extract field {name}: the store returned values that are not {type_}") from None
    return pa.Table.from_arrays(arrays, names=list(names))

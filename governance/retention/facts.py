"""What eligibility needs to know about cases, read set-based from a store.

One aggregate query per store (cases joined to their subject children), read
in bounded chunks when a subset is asked for. Fields a store does not map
(e.g. a Home-Start store keeps no reopening dates) read as NULL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

import sqlalchemy as sa

from governance.db import IdSet, chunked, one_of
from governance.stores.store import CaseStore

__all__ = ["CaseFacts", "load_facts", "load_links", "links_around", "FACTS_BATCH"]

# Ids per query when facts are read for a subset: bound as one value (governance.db.one_of),
# so the size bounds memory per round trip, not a parameter limit.
FACTS_BATCH = 5000

_CASE_FIELDS = (
    "id", "family_id", "case_type", "status", "opened_on", "closed_on", "reopened_on", "re_referral_of",
    "last_activity_on", "order_date", "csa_relevant", "child_protection_concerns", "social_care_involvement",
    "allegation_outcome", "closure_reason",
)


@dataclass(slots=True)
class CaseFacts:
    id: str
    family_id: str | None
    case_type: str
    status: str
    opened_on: date | None
    closed_on: date | None
    reopened_on: date | None
    re_referral_of: str | None
    last_activity_on: date | None
    order_date: date | None
    csa_relevant: bool | None
    child_protection_concerns: bool | None
    social_care_involvement: bool | None
    allegation_outcome: str | None
    closure_reason: str | None
    children: int = 0
    children_without_dob: int = 0
    youngest_dob: date | None = None
    oldest_dob: date | None = None
    child_deaths: list[tuple[date | None, date]] = field(default_factory=list)


def _col(store: CaseStore, entity: str, name: str) -> sa.ColumnElement:
    if store.has_field(entity, name):
        return store.column(entity, name)
    return sa.null().label(name)


def load_links(store: CaseStore) -> list[tuple[str, str | None]]:
    """(case id, case it re-refers) for every case: cheap, two columns."""
    query = sa.select(store.raw("case", "id"), _col(store, "case", "re_referral_of"))
    with store.engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(query)]


def links_around(store: CaseStore, case_ids: Iterable[str]) -> list[tuple[str, str | None]]:
    """The re-referral links of the given cases' whole chains, walked outwards in both directions.

    Cost follows the chains' size, not the store's: a chunk re-check reads a few
    indexed rows instead of every case.
    """
    if not store.has_field("case", "re_referral_of"):
        return [(c, None) for c in case_ids]
    case_id, previous = store.raw("case", "id"), store.raw("case", "re_referral_of")
    seen: set[str] = set(case_ids)
    frontier = set(seen)
    links: dict[str, str | None] = {}
    with store.engine.connect() as conn:
        while frontier:
            found: set[str] = set()
            for batch in chunked(sorted(frontier), FACTS_BATCH):
                ids = IdSet(batch)
                query = sa.select(case_id, previous).where(sa.or_(one_of(case_id, ids, conn.dialect.name),
                                                                  one_of(previous, ids, conn.dialect.name)))
                for cid, prev in conn.execute(query):
                    links[cid] = prev
                    found.update(x for x in (cid, prev) if x)
            frontier = found - seen
            seen |= found
    return sorted(links.items())


def load_facts(store: CaseStore, case_ids: Iterable[str] | None = None) -> dict[str, CaseFacts]:
    """Facts for the given cases (every case when None)."""
    facts: dict[str, CaseFacts] = {}
    batches: Iterable[IdSet | None] = ([None] if case_ids is None
                                       else (IdSet(batch) for batch in chunked(case_ids, FACTS_BATCH)))
    with store.engine.connect() as conn:
        for batch in batches:
            query = sa.select(*(_col(store, "case", f) for f in _CASE_FIELDS))
            if batch is not None:
                query = query.where(one_of(store.raw("case", "id"), batch, conn.dialect.name))
            for row in conn.execute(query):
                facts[row.id] = CaseFacts(*row)
            _add_children(store, conn, facts, batch)
    return facts


def _add_children(store: CaseStore, conn: sa.Connection, facts: dict[str, CaseFacts], batch: IdSet | None) -> None:
    member_case = store.raw("case_member", "case_id")
    person_id = store.raw("person", "id")
    dob = store.raw("person", "date_of_birth") if store.has_field("person", "date_of_birth") else sa.null()
    joined = store.table("case_member").join(store.table("person"), store.raw("case_member", "person_id") == person_id)
    is_child = store.is_("case_member", "role", "subject_child")
    in_scope = is_child if batch is None else sa.and_(is_child, one_of(member_case, batch, conn.dialect.name))
    dod = store.raw("person", "date_of_death") if store.has_field("person", "date_of_death") else None
    aggregate = (
        sa.select(
            member_case,
            sa.func.count(),
            sa.func.sum(sa.case((dob.is_(None), 1), else_=0)),
            sa.func.max(dob),
            sa.func.min(dob),
            sa.func.sum(sa.case((dod.is_not(None), 1), else_=0)) if dod is not None else sa.literal(0),
        )
        .select_from(joined)
        .where(in_scope)
        .group_by(member_case)
    )
    with_deaths = []
    for case_id, children, without_dob, youngest, oldest, deaths in conn.execute(aggregate):
        case = facts.get(case_id)
        if case is not None:
            case.children, case.children_without_dob = int(children), int(without_dob or 0)
            case.youngest_dob, case.oldest_dob = youngest, oldest
            if deaths:
                with_deaths.append(case_id)
    if with_deaths:
        # Rare: read the children's dates only for the cases the aggregate found a death on.
        deaths = sa.select(member_case, dob, dod).select_from(joined).where(
            sa.and_(is_child, dod.is_not(None), one_of(member_case, with_deaths, conn.dialect.name)))
        for case_id, born, died in conn.execute(deaths):
            facts[case_id].child_deaths.append((born, died))

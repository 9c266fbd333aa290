"""Removing cases from a store, set-based: every row of the case across the mapping.

:func:`gather` reads, before anything is deleted, what the deletion will take
with it (object keys, people and families left with no case, consents) so the
intent can be recorded. :func:`delete_rows` then deletes in one transaction:
casenotes, documents, sharing records, access log, consent opt-outs and
consents, memberships, the cases, then people who belong to no remaining case
and families with no remaining case (and their people).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from governance.db import chunked
from governance.stores.store import CaseStore

__all__ = ["Gathered", "gather", "delete_rows", "remaining_rows", "CASE_CHILD_ENTITIES"]

# Entities hanging off a case by case_id, deleted before the case itself.
CASE_CHILD_ENTITIES = ("casenote", "document", "sharing_record", "access_log", "case_member")


@dataclass
class Gathered:
    case_ids: list[str]
    object_keys: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)
    person_ids: list[str] = field(default_factory=list)  # candidates: kept if still on another case
    family_ids: list[str] = field(default_factory=list)  # candidates: kept if still with another case
    counts: dict[str, int] = field(default_factory=dict)  # rows that belong to the cases now


def _in(column: sa.ColumnElement, ids: list[str]) -> sa.ColumnElement[bool]:
    return column.in_(ids) if ids else sa.false()


def gather(store: CaseStore, conn: sa.Connection, case_ids: list[str]) -> Gathered:
    g = Gathered(sorted(case_ids))
    ids = g.case_ids
    if store.has_field("document", "object_key"):
        keys = conn.execute(sa.select(store.raw("document", "object_key"))
                            .where(_in(store.raw("document", "case_id"), ids))).scalars()
        g.object_keys = sorted({k for k in keys if k})
    if store.has("consent") and store.has_field("consent", "case_id"):
        g.consent_ids = sorted(conn.execute(sa.select(store.raw("consent", "id"))
                                            .where(_in(store.raw("consent", "case_id"), ids))).scalars())
    g.person_ids = sorted(set(conn.execute(sa.select(store.raw("case_member", "person_id"))
                                           .where(_in(store.raw("case_member", "case_id"), ids))).scalars()))
    g.family_ids = sorted({f for f in conn.execute(sa.select(store.raw("case", "family_id"))
                                                   .where(_in(store.raw("case", "id"), ids))).scalars() if f})
    for entity in CASE_CHILD_ENTITIES:
        if store.has(entity):
            g.counts[entity] = conn.execute(sa.select(sa.func.count()).select_from(store.table(entity))
                                            .where(_in(store.raw(entity, "case_id"), ids))).scalar_one()
    g.counts["case"] = len(ids)
    return g


def _delete(conn: sa.Connection, table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
    return conn.execute(table.delete().where(condition)).rowcount or 0


def delete_rows(store: CaseStore, conn: sa.Connection, g: Gathered) -> dict[str, int]:
    """Delete the gathered cases and everything hanging off them; return rows removed per entity."""
    if conn.dialect.name == "sqlite":
        # Overwrite freed pages with zeros, so deleted content is not left in the file (NIST 800-88 "clear").
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    removed: dict[str, int] = {}
    ids = g.case_ids
    for batch_ids in chunked(ids):
        for entity in CASE_CHILD_ENTITIES:
            if store.has(entity):
                removed[entity] = removed.get(entity, 0) + _delete(conn, store.table(entity), store.raw(entity, "case_id").in_(batch_ids))
    if store.has("consent"):
        consent_filter = [store.raw("consent", "id").in_(g.consent_ids)] if g.consent_ids else []
        if store.has_field("consent", "family_id") and g.family_ids:
            # Consents recorded against the family alone go when the family has no case left.
            orphaned_families = _families_without_cases(store, conn, g.family_ids, exclude=ids)
            if orphaned_families:
                consent_filter.append(store.raw("consent", "family_id").in_(orphaned_families))
        if consent_filter:
            consent_ids = conn.execute(sa.select(store.raw("consent", "id")).where(sa.or_(*consent_filter))).scalars().all()
            if store.has("consent_opt_out"):
                removed["consent_opt_out"] = sum(_delete(conn, store.table("consent_opt_out"),
                                                         store.raw("consent_opt_out", "consent_id").in_(b))
                                                 for b in chunked(consent_ids))
            removed["consent"] = sum(_delete(conn, store.table("consent"), store.raw("consent", "id").in_(b))
                                     for b in chunked(consent_ids))
    removed["case"] = sum(_delete(conn, store.table("case"), store.raw("case", "id").in_(b)) for b in chunked(ids))
    families_gone = _families_without_cases(store, conn, g.family_ids)
    people = store.table("person")
    still_member = sa.exists().where(store.raw("case_member", "person_id") == store.raw("person", "id"))
    person_filter = [store.raw("person", "id").in_(g.person_ids)] if g.person_ids else []
    if families_gone and store.has_field("person", "family_id"):
        person_filter.append(store.raw("person", "family_id").in_(families_gone))
    removed["person"] = _delete(conn, people, sa.and_(sa.or_(*person_filter), ~still_member)) if person_filter else 0
    removed["family"] = sum(_delete(conn, store.table("family"), store.raw("family", "id").in_(b))
                            for b in chunked(families_gone))
    return removed


def _families_without_cases(store: CaseStore, conn: sa.Connection, family_ids: list[str], exclude: list[str] = ()) -> list[str]:
    if not family_ids:
        return []
    case_family, case_id = store.raw("case", "family_id"), store.raw("case", "id")
    query = sa.select(case_family).distinct().where(case_family.in_(family_ids))
    if exclude:
        query = query.where(case_id.not_in(list(exclude)))
    kept = set(conn.execute(query).scalars())
    return [f for f in family_ids if f not in kept]


def remaining_rows(store: CaseStore, conn: sa.Connection, case_ids: list[str], consent_ids: list[str]) -> dict[str, int]:
    """Rows still in the store for these cases (verification: all zero)."""
    left: dict[str, int] = {}
    for batch_ids in chunked(case_ids):
        for entity in (*CASE_CHILD_ENTITIES, "case"):
            if store.has(entity):
                column = store.raw(entity, "id" if entity == "case" else "case_id")
                n = conn.execute(sa.select(sa.func.count()).select_from(store.table(entity)).where(column.in_(batch_ids))).scalar_one()
                left[entity] = left.get(entity, 0) + n
        if store.has("consent") and store.has_field("consent", "case_id"):
            n = conn.execute(sa.select(sa.func.count()).select_from(store.table("consent"))
                             .where(store.raw("consent", "case_id").in_(batch_ids))).scalar_one()
            left["consent"] = left.get("consent", 0) + n
    if store.has("consent_opt_out"):
        for batch_ids in chunked(consent_ids):
            n = conn.execute(sa.select(sa.func.count()).select_from(store.table("consent_opt_out"))
                             .where(store.raw("consent_opt_out", "consent_id").in_(batch_ids))).scalar_one()
            left["consent_opt_out"] = left.get("consent_opt_out", 0) + n
    return left

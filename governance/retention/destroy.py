"""Removing cases from a store, set-based: every row of the case across the mapping.

:func:`delete_cases` deletes, in the caller's open transaction: casenotes,
documents, sharing records, access log and memberships; consent opt-outs and
consents of the cases; the cases; consents (and opt-outs) of families left with
no case; then the cases' people and those families' people, and every household
a deleted row named (the cases' own, those their consents were filed under,
their members' own), **only when nothing kept refers to them**: a professional
who wrote a note on a kept case, a relative on another family's kept case, a
household one of whose members is kept all stay (every link to a person or a
family in the logical model is checked, one ``NOT EXISTS`` each, set-based), so
destruction never leaves a kept case pointing at a deleted row, nor a household
holding nothing but its name and address once all its links went in one chunk.
Each delete reports what it removed (``RETURNING``): the object keys of the
documents, the consents, people and families, and the rows per entity. So the
caller can record its intent *exactly*, before it commits, without reading
anything twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa

from governance.db import IdSet, one_of
from governance.stores.model import ENTITIES
from governance.stores.store import CaseStore

__all__ = ["Gathered", "delete_cases", "remaining_rows", "referenced", "CASE_CHILD_ENTITIES"]

# Entities hanging off a case by case_id, deleted before the case itself.
CASE_CHILD_ENTITIES = ("casenote", "document", "sharing_record", "access_log", "case_member")


@dataclass
class Gathered:
    """What one chunk's deletion removed: identifiers and counts, never content."""

    case_ids: list[str]
    object_keys: list[str] = field(default_factory=list)
    consent_ids: list[str] = field(default_factory=list)
    person_ids: list[str] = field(default_factory=list)
    family_ids: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # rows removed per entity


def delete_cases(store: CaseStore, conn: sa.Connection, case_ids: list[str]) -> Gathered:
    """Delete the cases and everything hanging off them in ``conn``'s open transaction; report what went.

    One statement per entity, whatever the number of cases (the ids are bound as
    one value, :func:`governance.db.one_of`). Nothing is final until the caller commits.
    """
    g = Gathered(sorted(set(case_ids)))
    if not g.case_ids:
        return g
    ids = IdSet(g.case_ids)  # bound in a dozen statements, encoded once
    if conn.dialect.name == "sqlite":
        # Overwrite freed pages with zeros, so deleted content is not left in the file (NIST 800-88 "clear").
        conn.exec_driver_sql("PRAGMA secure_delete = ON")

    def _in(column: sa.ColumnElement, values) -> sa.ColumnElement[bool]:
        return one_of(column, values, conn.dialect.name)

    def delete(entity: str, condition, returning: str | None = None) -> list:
        statement = store.table(entity).delete().where(condition)
        if returning is None:
            g.counts[entity] = g.counts.get(entity, 0) + (conn.execute(statement).rowcount or 0)
            return []
        values = conn.execute(statement.returning(store.raw(entity, returning))).scalars().all()
        g.counts[entity] = g.counts.get(entity, 0) + len(values)
        return values

    # The cases' people, read before their memberships go (candidates: kept if on another case).
    # A DISTINCT read costs less than RETURNING a row per membership.
    member_person, member_case = store.raw("case_member", "person_id"), store.raw("case_member", "case_id")
    people = [p for p in conn.execute(sa.select(member_person).distinct().where(_in(member_case, ids))).scalars()
              if p is not None]  # a membership without a person links nothing
    for entity in CASE_CHILD_ENTITIES:
        if not store.has(entity):
            continue
        condition = _in(store.raw(entity, "case_id"), ids)
        if entity == "document" and store.has_field("document", "object_key"):
            g.object_keys = sorted({k for k in delete(entity, condition, "object_key") if k})
        else:
            delete(entity, condition)
    # Households the chunk's other rows link to (a consent filed under another household, a member who
    # lives elsewhere): read before those rows go, each removed below if nothing kept refers to it then.
    linked_families = _linked_families(store, conn, ids, people)
    consents: list[str] = []
    if store.has("consent") and store.has_field("consent", "case_id"):
        consents += _delete_consents(store, conn, delete, _in(store.raw("consent", "case_id"), ids))
    families = {f for f in delete("case", _in(store.raw("case", "id"), ids),
                                  "family_id" if store.has_field("case", "family_id") else "id") if f}
    families_gone = _families_without_cases(store, conn, sorted(families)) if store.has_field("case", "family_id") else []
    gone = IdSet(families_gone)
    if families_gone and store.has("consent") and store.has_field("consent", "family_id"):
        # Consents recorded against the family alone go when the family has no case left.
        consents += _delete_consents(store, conn, delete, _in(store.raw("consent", "family_id"), gone))
    g.consent_ids = sorted(set(consents))
    person_filter = [_in(store.raw("person", "id"), sorted(people))] if people else []
    if families_gone and store.has_field("person", "family_id"):
        person_filter.append(_in(store.raw("person", "family_id"), gone))
    if person_filter:
        g.person_ids = sorted(delete("person", sa.and_(sa.or_(*person_filter), ~referenced(store, "person")), "id"))
    else:
        g.counts["person"] = 0
    households = sorted(set(families_gone) | linked_families)
    g.family_ids = sorted(delete("family", sa.and_(_in(store.raw("family", "id"), households),
                                                   ~referenced(store, "family")), "id")) if households else []
    g.counts.setdefault("family", 0)
    if store.has("consent"):
        g.counts.setdefault("consent", 0)
    return g


def referenced(store: CaseStore, entity: str) -> sa.ColumnElement[bool]:
    """Some row still in the store links to this ``entity`` row (any mapped link of the logical model)."""
    own_id = store.raw(entity, "id")
    links = [store.raw(source, name) for source, model in ENTITIES.items() if store.has(source)
             for name, target in model.links.items() if target == entity and store.has_field(source, name)]
    return sa.or_(*(sa.exists().where(link == own_id) for link in links)) if links else sa.false()


def _delete_consents(store: CaseStore, conn: sa.Connection, delete, condition) -> list[str]:
    """Opt-outs first (they hang off the consent), then the consents; their ids."""
    if store.has("consent_opt_out"):
        of_these = sa.select(store.raw("consent", "id")).where(condition)
        delete("consent_opt_out", store.raw("consent_opt_out", "consent_id").in_(of_these))
    return delete("consent", condition, "id")


def _linked_families(store: CaseStore, conn: sa.Connection, case_ids: IdSet, people: list[str]) -> set[str]:
    """Families named by the cases' consents and by the cases' people (candidates, checked when deleted)."""
    dialect = conn.dialect.name
    found: set[str] = set()
    if store.has("consent") and store.has_field("consent", "case_id") and store.has_field("consent", "family_id"):
        family = store.raw("consent", "family_id")
        found.update(conn.execute(sa.select(family).distinct()
                                  .where(one_of(store.raw("consent", "case_id"), case_ids, dialect))).scalars())
    if people and store.has_field("person", "family_id"):
        family = store.raw("person", "family_id")
        found.update(conn.execute(sa.select(family).distinct()
                                  .where(one_of(store.raw("person", "id"), sorted(people), dialect))).scalars())
    return found - {None}


def _families_without_cases(store: CaseStore, conn: sa.Connection, family_ids: list[str]) -> list[str]:
    if not family_ids:
        return []
    case_family = store.raw("case", "family_id")
    kept = set(conn.execute(sa.select(case_family).distinct()
                            .where(one_of(case_family, family_ids, conn.dialect.name))).scalars())
    return [f for f in family_ids if f not in kept]


def remaining_rows(store: CaseStore, conn: sa.Connection, case_ids: list[str], consent_ids: list[str]) -> dict[str, int]:
    """Rows still in the store for these cases (verification: all zero)."""
    def count(entity: str, column: str, ids: list[str]) -> int:
        return conn.execute(sa.select(sa.func.count()).select_from(store.table(entity))
                            .where(one_of(store.raw(entity, column), ids, conn.dialect.name))).scalar_one()

    left: dict[str, int] = {}
    for entity in (*CASE_CHILD_ENTITIES, "case"):
        if store.has(entity):
            left[entity] = count(entity, "id" if entity == "case" else "case_id", case_ids)
    if store.has("consent") and store.has_field("consent", "case_id"):
        left["consent"] = count("consent", "case_id", case_ids)
    if store.has("consent_opt_out"):
        left["consent_opt_out"] = count("consent_opt_out", "consent_id", consent_ids)
    return left

"""SQL building blocks shared by the consent queries and the compliance rules.

Written once so that the CLI's answer, the research exclusion and the daily
rules can never disagree about what "the consent in force on a day" means.
Everything is expressed in logical names through :class:`CaseStore`, so the
same SQL runs on every mapping (codes translated) and on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from governance.stores.store import CaseStore
from governance.sharing.policy import STATUTORY_CASE_TYPES

__all__ = [
    "blank",
    "is_true",
    "not_true",
    "plus_days",
    "is_shared",
    "consent_based_case",
    "latest_consent",
]


def blank(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """NULL or only spaces: a reason field that records nothing."""
    return sa.or_(column.is_(None), sa.func.trim(column) == "")


def is_true(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return column == sa.true()


def not_true(column: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """False or unrecorded: when a flag is evidence of compliance, NULL is no evidence."""
    return sa.or_(column.is_(None), column == sa.false())


def plus_days(store: CaseStore, column: sa.ColumnElement[Any], days: int) -> sa.ColumnElement[Any]:
    """``column + days`` as a date, in the store's SQL dialect."""
    days = int(days)
    if store.engine.dialect.name == "sqlite":
        # SQLite keeps dates as ISO text; date() returns ISO text, which compares correctly.
        return sa.func.date(column, f"{days:+d} days")
    return column + sa.literal_column(str(days), sa.Integer)


def is_shared(store: CaseStore) -> sa.ColumnElement[bool]:
    """A sharing record that passed information on.

    Only an explicit ``not_shared`` decision is left out: a missing or unknown
    decision is treated as a share (the stricter reading).
    """
    decision = store.raw("sharing_record", "decision")
    return sa.or_(decision.is_(None), ~store.is_("sharing_record", "decision", "not_shared"))


def consent_based_case(store: CaseStore) -> sa.ColumnElement[bool]:
    """The case's service needs consent: not a known statutory type (missing or unknown codes count)."""
    case_type = store.raw("case", "case_type")
    return sa.or_(case_type.is_(None), ~store.is_("case", "case_type", *STATUTORY_CASE_TYPES))


def _own_case_first(store: CaseStore, keys: sa.Subquery) -> list[sa.ColumnElement[Any]]:
    if "case_id" not in keys.c or not store.has_field("consent", "case_id"):
        return []
    own = sa.case((store.raw("consent", "case_id") == keys.c.case_id, 0), else_=1)
    return [own]


def latest_consent(store: CaseStore, keys: sa.Subquery) -> sa.Subquery:
    """For each row of ``keys`` (columns ``key``, ``family_id``, ``day``, optionally ``case_id``): the form in force.

    The form in force on a day is the most recently signed form on or before
    that day (ties: the highest form id), among the forms signed for the
    key's own case when ``case_id`` is given and that case has one, else among
    all the family's forms. Consent is given for a piece of work (seed 001:
    the form is scanned to that record), so a share is judged by its own
    case's form; a later form replaces an earlier one; a withdrawal belongs to
    the form it is recorded on. Rows with no form signed by then come back with
    ``consent_id`` NULL.

    Returns a subquery with ``key``, ``consent_id``, ``consent_to_share`` and
    ``withdrawn_on``, one row per key.
    """
    consent = store.table("consent")
    c_id, c_family, c_given = (store.raw("consent", f) for f in ("id", "family_id", "given_on"))
    ranked = (
        sa.select(
            keys.c.key,
            c_id.label("consent_id"),
            store.raw("consent", "consent_to_share").label("consent_to_share"),
            (store.raw("consent", "withdrawn_on") if store.has_field("consent", "withdrawn_on")
             else sa.null().cast(sa.Date)).label("withdrawn_on"),
            sa.func.row_number().over(partition_by=keys.c.key, order_by=(*_own_case_first(store, keys), c_given.desc(),
                                                                          c_id.desc())).label("rn"),
        )
        .select_from(keys.outerjoin(consent, sa.and_(c_family == keys.c.family_id, c_given <= keys.c.day)))
        .subquery("ranked_consent")
    )
    return (
        sa.select(ranked.c.key, ranked.c.consent_id, ranked.c.consent_to_share, ranked.c.withdrawn_on)
        .where(ranked.c.rn == 1)
        .subquery("consent_in_force")
    )

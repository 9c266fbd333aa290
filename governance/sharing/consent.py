"""Consent state over time: what a family (or one person) agreed, and when, as of any day.

The consent form (seed 001) records consent to approach other agencies,
consent to share, per-agency opt-outs and, later, a withdrawal. The platform
answers as-of questions from those rows alone: a form counts from the day it
was signed; a withdrawal counts from its own date; a later form replaces an
earlier one (see :func:`governance.sharing.sql.latest_consent`). Nothing here
reads the clock: every function takes the day it answers for.

``research_excluded_family_ids`` is the hook the research capability calls so
that extracts honour what families said (decision in docs/sharing.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.sharing import sql
from governance.sharing.policy import FAMILY_ROLES
from governance.stores.store import CaseStore

__all__ = [
    "ConsentForm",
    "UnknownRecord",
    "consent_history",
    "consent_in_force",
    "family_exists",
    "research_excluded_family_ids",
]


class UnknownRecord(GovernanceError):
    """The store holds no record with this identifier (the message names the id only)."""


@dataclass(frozen=True)
class ConsentForm:
    """One signed form as it stood on ``as_of``: a withdrawal after that day is not shown."""

    consent_id: str
    family_id: str
    case_id: str | None
    given_by: str | None
    given_on: date
    consent_to_approach: bool | None
    consent_to_share: bool | None
    withdrawn_on: date | None
    opted_out: tuple[str, ...]

    def shares_with(self, agency: str) -> bool:
        """Consent to share is given, not withdrawn, and the agency is not opted out."""
        return bool(self.consent_to_share) and self.withdrawn_on is None and agency not in self.opted_out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["opted_out"] = list(self.opted_out)
        for key in ("given_on", "withdrawn_on"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


def family_exists(store: CaseStore, family_id: str) -> bool:
    """The store has a family row with this id."""
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(sa.literal(1)).select_from(store.table("family")).where(store.raw("family", "id") == family_id)
        ).first() is not None


def consent_history(
    store: CaseStore, *, as_of: date, family_id: str | None = None, person_id: str | None = None
) -> list[ConsentForm]:
    """Every form signed on or before ``as_of`` for the family and/or given by the person, oldest first.

    Opt-out agencies are logical names (the mapping's codes translated).
    """
    if family_id is None and person_id is None:
        raise GovernanceError("consent history needs a family id or a person id")
    if not store.has("consent"):
        return []
    fields = ["id", "family_id", "case_id", "given_by", "given_on", "consent_to_approach", "consent_to_share", "withdrawn_on"]
    mapped = [f for f in fields if store.has_field("consent", f)]
    query = store.select("consent", mapped).where(store.raw("consent", "given_on") <= as_of)
    if family_id is not None:
        query = query.where(store.raw("consent", "family_id") == family_id)
    if person_id is not None:
        query = query.where(store.raw("consent", "given_by") == person_id)
    query = query.order_by(store.raw("consent", "given_on"), store.raw("consent", "id"))
    with store.engine.connect() as conn:
        forms = [dict(row._mapping) for row in conn.execute(query)]
        opted: dict[str, list[str]] = {}
        if forms and store.has("consent_opt_out"):
            ids = [f["id"] for f in forms]
            rows = conn.execute(
                store.select("consent_opt_out", ["consent_id", "agency"])
                .where(store.raw("consent_opt_out", "consent_id").in_(ids))
                .order_by(store.raw("consent_opt_out", "consent_id"), store.raw("consent_opt_out", "agency"))
            )
            for consent_id, agency in rows:
                opted.setdefault(consent_id, []).append(agency)
    out = []
    for form in forms:
        withdrawn = form.get("withdrawn_on")
        out.append(ConsentForm(
            consent_id=form["id"], family_id=form["family_id"], case_id=form.get("case_id"),
            given_by=form.get("given_by"), given_on=form["given_on"],
            consent_to_approach=form.get("consent_to_approach"), consent_to_share=form.get("consent_to_share"),
            withdrawn_on=withdrawn if withdrawn is not None and withdrawn <= as_of else None,
            opted_out=tuple(opted.get(form["id"], ())),
        ))
    return out


def consent_in_force(
    store: CaseStore, family_id: str, on: date, *, person_id: str | None = None, case_id: str | None = None
) -> ConsentForm | None:
    """The form in force on ``on`` (latest signed by then), or None if none was signed.

    With ``case_id``, the latest form signed for that case wins if it has one
    (a share is judged by its own case's form), else the family's latest.
    With ``person_id``, only forms that person signed are considered.
    """
    history = consent_history(store, as_of=on, family_id=family_id, person_id=person_id)
    own = [form for form in history if case_id is not None and form.case_id == case_id]
    return (own or history or [None])[-1]


def research_excluded_family_ids(
    store: CaseStore, as_of: date, *, research_opt_outs: bool = True, consent_refusals: bool = True
) -> set[str]:
    """Families a research extract must leave out, as of ``as_of``.

    - ``research_opt_outs``: any child, parent/carer or relative of the family
      has ``research_opt_out`` set (the flag has no date, so it stands whatever
      the day). Professionals and members of the public do not speak for the family.
    - ``consent_refusals``: the family's consent form in force on ``as_of``
      is withdrawn or does not give consent to share. A pseudonymised extract
      is still personal data sent to another organisation, so a family that
      said no to sharing is left out unless the study turns this off
      (the stricter default; docs/sharing.md).
    """
    excluded: set[str] = set()
    with store.engine.connect() as conn:
        if research_opt_outs and store.has_field("person", "research_opt_out"):
            family = store.raw("person", "family_id")
            query = sa.select(family).distinct().where(
                family.isnot(None), sql.is_true(store.raw("person", "research_opt_out")),
                store.is_("person", "role", *FAMILY_ROLES),
            )
            excluded.update(conn.execute(query).scalars())
        if consent_refusals and store.has("consent"):
            keys = (
                sa.select(store.raw("family", "id").label("key"), store.raw("family", "id").label("family_id"),
                          sa.literal(as_of, sa.Date).label("day"))
                .subquery("families")
            )
            current = sql.latest_consent(store, keys)
            refused = sa.select(current.c.key).where(
                current.c.consent_id.isnot(None),
                sa.or_(sql.not_true(current.c.consent_to_share),
                       sa.and_(current.c.withdrawn_on.isnot(None), current.c.withdrawn_on <= as_of)),
            )
            excluded.update(conn.execute(refused).scalars())
    return excluded

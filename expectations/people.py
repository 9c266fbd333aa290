"""People: identifiers, roles, dates of birth and death, household links.

"Date of birth plausible for the role": nobody was born more than
``max_age_years`` before the as-of date, and a subject child was at most
``max_child_age_at_first_case`` years old (by calendar year) when the first
case they are the subject of opened. The generator's legacy placeholder
(1900-01-01 on a subject child) fails both; one failing row per person.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.quality import sql
from governance.quality.rules import InVocabulary, KeyPresent, KeyUnique, LinkResolves, NotBefore, NotFuture, Rule, Readable

__all__ = ["DATASET", "rules"]

DATASET = "people"


def _implausible_birth(store, b, options) -> sa.Select:
    person_id = sql.field(b, store, "person", "id")
    born = sql.field(b, store, "person", "date_of_birth")
    member = store.table("case_member").alias("m")
    case = store.table("case").alias("c")
    opened = sql.field(case, store, "case", "opened_on")
    first = (
        sa.select(sql.field(member, store, "case_member", "person_id").label("person_id"),
                  sa.func.min(opened).label("first_opened"))
        .select_from(member.join(case, sql.field(case, store, "case", "id") == sql.field(member, store, "case_member", "case_id")))
        .where(sql.field(member, store, "case_member", "role") == store.encode("case_member", "role", "subject_child"))
        .group_by(sql.field(member, store, "case_member", "person_id"))
        .subquery("f")
    )
    age_at_first_case = sa.extract("year", first.c.first_opened) - sa.extract("year", born)
    return (
        sa.select(person_id.label(sql.RECORD_ID))
        .select_from(b.outerjoin(first, first.c.person_id == person_id))
        .where(born.is_not(None), sa.or_(
            born < options.oldest_birth_date,
            sa.and_(first.c.first_opened.is_not(None), age_at_first_case > options.max_child_age_at_first_case),
        ))
    )


def rules() -> list:
    return [
        KeyPresent(entity="person"),
        KeyUnique(entity="person"),
        InVocabulary(entity="person", field="role"),
        Readable(entity="person", field="date_of_birth"),
        Readable(entity="person", field="date_of_death"),
        NotFuture(entity="person", field="date_of_birth"),
        NotFuture(entity="person", field="date_of_death"),
        NotBefore(entity="person", field="date_of_death", other="date_of_birth"),
        LinkResolves(entity="person", field="family_id"),
        Rule(
            entity="person", check="date_of_birth.plausible_for_role", fields=("date_of_birth",),
            also=(("case_member", "person_id"), ("case_member", "case_id"), ("case_member", "role"), ("case", "opened_on")),
            query=_implausible_birth,
            text="a date of birth is plausible for the role: not older than the age limit, and a subject "
                 "child not over the child age limit when their first case opened",
        ),
    ]

"""Cases: identifiers, types and statuses, the dates of an episode, closure, links.

The closure rules are what retention depends on: a closed case must carry its
closure date and reason, the closure cannot precede the opening nor lie after
the as-of date. A record failing them is quarantined, never destroyed on a guess.

Dormancy is a *report*, not a quarantine: an open case whose latest activity
(opening, reopening, last-activity date, casenotes up to the as-of date) is
older than ``dormant_years`` is listed, because open cases never reach
retention; someone must review and close it.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.quality import sql
from governance.quality.rules import (
    REPORT, InVocabulary, KeyPresent, KeyUnique, LinkResolves, NotBefore, NotFuture, Present, PresentWhen, Readable,
    Rule,
)

__all__ = ["DATASET", "rules"]

DATASET = "cases"
_DATES = ("opened_on", "closed_on", "reopened_on", "last_activity_on", "order_date")


def _dormant(store, b, options) -> sa.Select:
    case_id = sql.field(b, store, "case", "id")
    cutoff = options.dormant_cutoff
    note = store.table("casenote").alias("n")
    written = sql.field(note, store, "casenote", "written_on")
    recent = (
        sa.select(sql.field(note, store, "casenote", "case_id").label("case_id"))
        .where(written >= cutoff, written <= options.as_of)
        .distinct()
        .subquery("a")
    )
    conditions = [
        sql.field(b, store, "case", "status") == store.encode("case", "status", "open"),
        sql.field(b, store, "case", "opened_on") < cutoff,
        recent.c.case_id.is_(None),
    ]
    for name in ("reopened_on", "last_activity_on"):
        if store.has_field("case", name):
            day = sql.field(b, store, "case", name)
            conditions.append(sa.or_(day.is_(None), day < cutoff))
    return sa.select(case_id.label(sql.RECORD_ID)).select_from(b.outerjoin(recent, recent.c.case_id == case_id)).where(*conditions)


def rules() -> list:
    return [
        KeyPresent(entity="case"),
        KeyUnique(entity="case"),
        InVocabulary(entity="case", field="case_type"),
        InVocabulary(entity="case", field="status"),
        Present(entity="case", field="opened_on"),
        *(Readable(entity="case", field=name) for name in _DATES),
        *(NotFuture(entity="case", field=name) for name in _DATES),
        NotBefore(entity="case", field="closed_on", other="opened_on"),
        # A case reopened and closed again has reopened_on before closed_on: that is a normal history,
        # and retention treats it as closed (due when its clocks run). A reopening before the case
        # was opened is impossible, so that is the defect (eligibility excludes the same shape).
        NotBefore(entity="case", field="reopened_on", other="opened_on"),
        PresentWhen(entity="case", field="closed_on", when="status", value="closed", label="closed"),
        PresentWhen(entity="case", field="closure_reason", when="status", value="closed", label="closed"),
        LinkResolves(entity="case", field="family_id"),
        LinkResolves(entity="case", field="re_referral_of"),
        Rule(
            entity="case", severity=REPORT, check="activity.recent_when_open", fields=("status", "opened_on"),
            also=(("casenote", "case_id"), ("casenote", "written_on")),
            query=_dormant,
            text="an open case has had some activity within the dormancy period (reported, not quarantined: "
                 "open cases never reach retention)",
        ),
    ]

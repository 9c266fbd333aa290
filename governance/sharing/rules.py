"""The compliance rules as set-based SQL over a store's mapping.

Each check builds one ``SELECT rule, record_id, case_id, event_on`` over the
whole store (no per-record Python), in logical names with the mapping's codes
translated. A check whose entities or fields the store does not map is
skipped and reported as skipped, never silently passed.

Which records each rule looks at (docs/sharing.md has the full table):

- shares are records whose decision is not ``not_shared``, dated on or before ``as_of``;
- the three consent rules look only at shares on consent-based cases that
  record a lawful basis but no override reason, judged against the consent
  form in force on the day of the share (the share's own case's form, else
  the family's latest; see :func:`governance.sharing.sql.latest_consent`);
  one finding per share, the first that applies of:
  withdrawn -> ``share_after_withdrawal``; no form or consent to share not
  given -> ``share_without_consent``; agency opted out -> ``share_to_opted_out_agency``;
- the other share rules apply to every case type, statutory included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

import sqlalchemy as sa

from governance.sharing import sql
from governance.sharing.policy import PRIVACY_NOTICE_TITLE
from governance.stores.store import CaseStore

__all__ = ["Check", "CHECKS", "CheckContext"]


@dataclass(frozen=True)
class CheckContext:
    as_of: date
    privacy_notice_days: int


@dataclass(frozen=True)
class Check:
    """One query raising one or more rules; ``needs`` lists ``entity`` or ``entity.field`` it reads."""

    rules: tuple[str, ...]
    needs: tuple[str, ...]
    build: Callable[[CaseStore, CheckContext], sa.Select]

    def missing(self, store: CaseStore) -> list[str]:
        out = []
        for need in self.needs:
            entity, _, field = need.partition(".")
            if not (store.has_field(entity, field) if field else store.has(entity)):
                out.append(need)
        return out


def _s(store: CaseStore, field: str) -> sa.Column:
    return store.raw("sharing_record", field)


def _shares(store: CaseStore, ctx: CheckContext) -> list[sa.ColumnElement[bool]]:
    return [sql.is_shared(store), _s(store, "shared_on") <= ctx.as_of]


def _share_finding(store: CaseStore, rule: str | sa.ColumnElement[str]) -> list[sa.ColumnElement]:
    label = rule if isinstance(rule, sa.ColumnElement) else sa.literal(rule, sa.String)
    return [label.label("rule"), _s(store, "id").label("record_id"), _s(store, "case_id").label("case_id"),
            _s(store, "shared_on").label("event_on")]


def _consent_rules(store: CaseStore, ctx: CheckContext) -> sa.Select:
    case_id, family = store.raw("case", "id"), store.raw("case", "family_id")
    conditions = [*_shares(store, ctx), sql.consent_based_case(store)]
    if store.has_field("sharing_record", "override_reason"):
        conditions.append(sql.blank(_s(store, "override_reason")))
    if store.has_field("sharing_record", "lawful_basis"):
        # No basis at all is shared_without_lawful_basis alone: the consent rules judge the
        # justification a share records, and are applied once a basis is recorded.
        conditions.append(~sql.blank(_s(store, "lawful_basis")))
    keys = (
        sa.select(_s(store, "id").label("key"), family.label("family_id"), _s(store, "shared_on").label("day"),
                  case_id.label("case_id"))
        .select_from(store.table("sharing_record").join(store.table("case"), case_id == _s(store, "case_id")))
        .where(*conditions)
        .subquery("consent_shares")
    )
    current = sql.latest_consent(store, keys)
    withdrawn = sa.and_(current.c.withdrawn_on.isnot(None), current.c.withdrawn_on <= _s(store, "shared_on"))
    not_given = sa.or_(current.c.consent_id.is_(None), sql.not_true(current.c.consent_to_share))
    whens = [(withdrawn, "share_after_withdrawal"), (not_given, "share_without_consent")]
    if store.has("consent_opt_out"):
        opted_out = (
            sa.select(sa.literal(1))
            .where(store.raw("consent_opt_out", "consent_id") == current.c.consent_id,
                   store.column("consent_opt_out", "agency") == store.column("sharing_record", "recipient_agency"))
            .exists()
        )
        whens.append((opted_out, "share_to_opted_out_agency"))
    rule = sa.case(*whens, else_=sa.null())
    inner = (
        sa.select(*_share_finding(store, rule))
        .select_from(store.table("sharing_record").join(current, current.c.key == _s(store, "id")))
        .subquery("consent_findings")
    )
    return sa.select(inner).where(inner.c.rule.isnot(None))


def _no_lawful_basis(store: CaseStore, ctx: CheckContext) -> sa.Select:
    return sa.select(*_share_finding(store, "shared_without_lawful_basis")).where(
        *_shares(store, ctx), sql.blank(_s(store, "lawful_basis")))


def _not_informed(store: CaseStore, ctx: CheckContext) -> sa.Select:
    no_reason = (sql.blank(_s(store, "not_informed_reason")) if store.has_field("sharing_record", "not_informed_reason")
                 else sa.true())
    return sa.select(*_share_finding(store, "family_not_informed_without_reason")).where(
        *_shares(store, ctx), sql.not_true(_s(store, "family_informed")), no_reason)


def _third_party_document(store: CaseStore, ctx: CheckContext) -> sa.Select:
    consent = store.raw("document", "author_consent")
    return (
        sa.select(*_share_finding(store, "third_party_document_shared_without_consent"))
        .select_from(store.table("sharing_record").join(
            store.table("document"), store.raw("document", "id") == _s(store, "document_id")))
        .where(*_shares(store, ctx), sql.is_true(store.raw("document", "third_party")),
               sa.or_(consent.is_(None), ~store.is_("document", "author_consent", "granted")))
    )


def _restricted_note(store: CaseStore, ctx: CheckContext) -> sa.Select:
    return (
        sa.select(*_share_finding(store, "restricted_material_passed_on"))
        .select_from(store.table("sharing_record").join(
            store.table("casenote"), store.raw("casenote", "id") == _s(store, "casenote_id")))
        .where(*_shares(store, ctx), sql.is_true(store.raw("casenote", "restricted_disclosure")))
    )


def _access(store: CaseStore, ctx: CheckContext) -> sa.Select:
    a = lambda f: store.raw("access_log", f)  # noqa: E731
    no_reason = sql.blank(a("reason")) if store.has_field("access_log", "reason") else sa.true()
    return sa.select(
        sa.literal("non_staff_access_without_reason", sa.String).label("rule"), a("id").label("record_id"),
        a("case_id").label("case_id"), a("accessed_at").label("event_on"),
    ).where(sql.not_true(a("is_staff")), no_reason, a("accessed_at") < ctx.as_of + timedelta(days=1))


def _privacy_notice(store: CaseStore, ctx: CheckContext) -> sa.Select:
    days = ctx.privacy_notice_days
    opened, case_id = store.raw("case", "opened_on"), store.raw("case", "id")
    written = store.raw("casenote", "written_on")
    notice = (
        sa.select(sa.literal(1))
        .where(store.raw("casenote", "case_id") == case_id,
               sa.func.lower(store.raw("casenote", "title")).like(f"%{PRIVACY_NOTICE_TITLE}%"),
               written >= opened, written <= sql.plus_days(store, opened, days))
        .exists()
    )
    return sa.select(
        sa.literal("missing_privacy_notice", sa.String).label("rule"), case_id.label("record_id"),
        case_id.label("case_id"), opened.label("event_on"),
    ).where(store.is_("case", "case_type", "early_help"), opened <= ctx.as_of - timedelta(days=days), ~notice)


_SHARE = ("sharing_record",)
CHECKS: tuple[Check, ...] = (
    Check(("share_after_withdrawal", "share_without_consent", "share_to_opted_out_agency"),
          _SHARE + ("case", "consent"), _consent_rules),
    Check(("shared_without_lawful_basis",), ("sharing_record.lawful_basis",), _no_lawful_basis),
    Check(("family_not_informed_without_reason",), ("sharing_record.family_informed",), _not_informed),
    Check(("third_party_document_shared_without_consent",),
          ("sharing_record.document_id", "document.third_party", "document.author_consent"), _third_party_document),
    Check(("restricted_material_passed_on",),
          ("sharing_record.casenote_id", "casenote.restricted_disclosure"), _restricted_note),
    Check(("non_staff_access_without_reason",), ("access_log",), _access),
    Check(("missing_privacy_notice",), ("case", "casenote"), _privacy_notice),
)

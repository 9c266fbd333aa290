"""May this family's information be shared with this agency on this day? An answer the IG team can explain.

:func:`check_sharing` returns one of three decisions with its basis:

``allowed``
    Basis ``consent``: the family's form in force that day gives consent to
    share, is not withdrawn and does not opt out of the agency. Or basis
    ``legal_duty``: a statutory social-care case (Children Act 1989/2004) is
    open that day (:mod:`governance.sharing.open_cases` decides; a case whose
    dates cannot be read is not counted, reason ``case_date_unreadable``);
    social care may share without consent, but must still inform the family
    unless an exception applies (seed 002 s.3).
``refused``
    The family said no: consent to share not given, withdrawn by that day, or
    the agency ticked as an opt-out. A share is lawful only under a recorded
    override (significant harm, crime, court order, not reasonably
    practicable; seed 002 s.3); without one the compliance checks raise a finding.
``override_required``
    No consent form had been signed by that day and no statutory case is
    open: nothing the family agreed covers the share. Seek consent, or share
    only under a recorded lawful override.

The answer carries identifiers, agency codes and dates only, never content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa

from governance.errors import ConfigError
from governance.sharing.consent import ConsentForm, UnknownRecord, family_exists, consent_in_force
from governance.sharing.open_cases import cases_open_on
from governance.sharing.policy import OVERRIDE_REASONS, STATUTORY_CASE_TYPES
from governance.stores.model import AGENCIES
from governance.stores.store import CaseStore

__all__ = ["SharingAnswer", "check_sharing"]

_EXPLAIN = {
    "legal_duty": "Statutory case {cases} is open on {on}: children's social care may share without consent "
                  "under the Children Act 1989/2004, and must inform the family unless an exception is recorded.",
    "consent_in_force": "Consent form {form} (signed {signed}) gives consent to share and does not opt out of {agency}.",
    "consent_withdrawn": "Consent form {form} was withdrawn on {withdrawn}.",
    "consent_to_share_not_given": "Consent form {form} (signed {signed}) does not give consent to share.",
    "agency_opted_out": "Consent form {form} (signed {signed}) opts out of sharing with {agency}.",
    "no_consent_on_record": "No consent form had been signed for this family by {on}.",
    "case_date_unreadable": "Statutory case {case} is not counted as open: its {fields} cannot be read as a date "
                            "(correct the case record).",
}
_OVERRIDE_NOTE = ("Sharing is lawful only if one of these applies and is recorded as the override reason on the "
                  "sharing record: " + ", ".join(OVERRIDE_REASONS) + ".")


@dataclass(frozen=True)
class SharingAnswer:
    """The decision, its basis, the reasons (codes) and the consent state it rests on."""

    store: str
    family_id: str
    case_id: str | None
    agency: str
    on: date
    decision: str  # allowed | override_required | refused
    basis: str | None  # consent | legal_duty | None
    reasons: tuple[str, ...]
    consent_decision: str  # the answer on consent alone, before any statutory duty
    consent: ConsentForm | None
    statutory_case_ids: tuple[str, ...]
    lawful_overrides: tuple[str, ...] = field(default=())
    explanation: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "store": self.store, "family_id": self.family_id, "case_id": self.case_id, "agency": self.agency, "on": self.on.isoformat(),
            "decision": self.decision, "basis": self.basis, "reasons": list(self.reasons),
            "consent_decision": self.consent_decision,
            "consent": self.consent.to_json() if self.consent else None,
            "statutory_case_ids": list(self.statutory_case_ids),
            "lawful_overrides": list(self.lawful_overrides), "explanation": self.explanation,
        }


def _statutory_cases_open(store: CaseStore, family_id: str, on: date,
                          only: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(statutory cases open on ``on``, lines naming statutory cases whose dates cannot be read)."""
    condition = sa.and_(store.raw("case", "family_id") == family_id,
                        store.is_("case", "case_type", *STATUTORY_CASE_TYPES))
    if only is not None:
        condition = sa.and_(condition, store.raw("case", "id") == only)
    with store.engine.connect() as conn:
        open_ids, unreadable = cases_open_on(store, conn, condition, on)
    lines = tuple(_EXPLAIN["case_date_unreadable"].format(case=c.case_id, fields=", ".join(c.unreadable))
                  for c in unreadable)
    return tuple(open_ids), lines


def _case_of_family(store: CaseStore, family_id: str, case_id: str) -> bool:
    query = sa.select(sa.literal(1)).where(store.raw("case", "id") == case_id,
                                           store.raw("case", "family_id") == family_id)
    with store.engine.connect() as conn:
        return conn.execute(query).first() is not None


def _consent_answer(form: ConsentForm | None, agency: str) -> tuple[str, tuple[str, ...]]:
    if form is None:
        return "override_required", ("no_consent_on_record",)
    reasons = []
    if form.withdrawn_on is not None:
        reasons.append("consent_withdrawn")
    if not form.consent_to_share:
        reasons.append("consent_to_share_not_given")
    if agency in form.opted_out:
        reasons.append("agency_opted_out")
    return ("refused", tuple(reasons)) if reasons else ("allowed", ("consent_in_force",))


def check_sharing(store: CaseStore, family_id: str, agency: str, on: date, *, case_id: str | None = None) -> SharingAnswer:
    """Answer for sharing ``family_id``'s information with ``agency`` on ``on`` (see module docstring).

    With ``case_id`` the answer is for the work of that case, as the compliance
    rules judge its shares: its own consent form if it has one, and a legal
    duty only if it is itself a statutory case open that day.
    """
    if agency not in AGENCIES:
        raise ConfigError(f"unknown agency {agency!r}; the consent form's agencies are: {', '.join(AGENCIES)}")
    if not family_exists(store, family_id):
        raise UnknownRecord(f"store {store.name}: no family {family_id}")
    if case_id is not None and not _case_of_family(store, family_id, case_id):
        raise UnknownRecord(f"store {store.name}: no case {case_id} for family {family_id}")
    form = consent_in_force(store, family_id, on, case_id=case_id)
    consent_decision, reasons = _consent_answer(form, agency)
    statutory, unreadable = _statutory_cases_open(store, family_id, on, case_id)
    if unreadable:
        reasons = (*reasons, "case_date_unreadable")
    if statutory:
        decision, basis, reasons = "allowed", "legal_duty", ("statutory_case_open", *reasons)
    else:
        decision, basis = consent_decision, ("consent" if consent_decision == "allowed" else None)
    words = {
        "cases": ", ".join(statutory), "on": on.isoformat(), "agency": agency,
        "form": form.consent_id if form else "", "signed": form.given_on.isoformat() if form else "",
        "withdrawn": form.withdrawn_on.isoformat() if form and form.withdrawn_on else "",
    }
    lines = [_EXPLAIN["legal_duty"].format(**words)] if statutory else []
    lines += [_EXPLAIN[r].format(**words) for r in reasons if r in _EXPLAIN and r != "case_date_unreadable"]
    lines += unreadable
    if decision != "allowed":
        lines.append(_OVERRIDE_NOTE)
    return SharingAnswer(
        store=store.name, family_id=family_id, case_id=case_id, agency=agency, on=on, decision=decision, basis=basis,
        reasons=tuple(reasons), consent_decision=consent_decision, consent=form, statutory_case_ids=statutory,
        lawful_overrides=OVERRIDE_REASONS if decision != "allowed" else (), explanation=" ".join(lines),
    )

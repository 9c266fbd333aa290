"""The sharing policy the checks apply, as data: which services need consent, which rules exist.

Why a module of constants: the IG team must be able to read, in one place,
which rule raised a finding, what it means and which policy document it comes
from. Nothing here touches a database.

Statutory and consent-based work (decision, see docs/sharing.md):

- ``early_help`` and ``home_start`` are voluntary services (seeds 000, 001, 003):
  a share needs the family's consent in force on the day, or a recorded
  lawful override (significant harm, crime, court order, not reasonably
  practicable; seed 002 s.3).
- Every other case type is statutory social-care work under the Children Act
  1989/2004 (seed 002 s.2): it may share without consent (lawful basis
  ``legal_duty``), so consent opt-outs and withdrawals do not bind it. The
  duty to inform the family, the author's consent for third-party documents
  and restrictions on further disclosure still apply.
- A case whose type is missing or unknown is treated as consent-based: the
  stricter reading, so a miscoded case cannot escape the consent checks.
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.stores.model import CASE_TYPES, OVERRIDE_REASONS

__all__ = [
    "CONSENT_BASED_CASE_TYPES",
    "STATUTORY_CASE_TYPES",
    "FAMILY_ROLES",
    "DEFAULT_PRIVACY_NOTICE_DAYS",
    "PRIVACY_NOTICE_TITLE",
    "Rule",
    "RULES",
    "RULE_CODES",
    "DECISIONS",
    "OVERRIDE_REASONS",
]

CONSENT_BASED_CASE_TYPES = ("early_help", "home_start")
STATUTORY_CASE_TYPES = tuple(t for t in CASE_TYPES if t not in CONSENT_BASED_CASE_TYPES)
#: Roles whose research opt-out or consent speaks for the family (not professionals, not the public).
FAMILY_ROLES = ("subject_child", "parent_carer", "family_member")

#: Seed 000: the privacy notice is shared "when you start work with a family"; 28 days is the default grace.
DEFAULT_PRIVACY_NOTICE_DAYS = 28
#: Seed 000: "upload a casenote ... titled 'privacy notice shared with family'" (matched case-insensitively, as a substring).
PRIVACY_NOTICE_TITLE = "privacy notice shared with family"

#: Answers of :func:`governance.sharing.decision.check_sharing`.
DECISIONS = ("allowed", "override_required", "refused")


@dataclass(frozen=True)
class Rule:
    """One compliance rule: its code (the finding's rule), the entity its record ids name, and why."""

    code: str
    entity: str
    summary: str
    source: str


RULES: tuple[Rule, ...] = (
    Rule("share_to_opted_out_agency", "sharing_record",
         "shared with an agency the family opted out of, with no override reason recorded", "seed 001 consent form"),
    Rule("share_after_withdrawal", "sharing_record",
         "shared on or after the day consent was withdrawn, with no override reason recorded", "seed 001 consent form"),
    Rule("share_without_consent", "sharing_record",
         "consent-based case: no consent form in force on the day, or consent to share not given, "
         "and no override reason recorded", "seeds 001, 003 s.1.3.2; seed 002 s.3"),
    Rule("shared_without_lawful_basis", "sharing_record",
         "shared with no lawful basis recorded at all", "HM Government information-sharing advice 2024; seed 002 s.3"),
    Rule("family_not_informed_without_reason", "sharing_record",
         "family not informed (or not recorded as informed) and no reason recorded", "seed 002 s.3"),
    Rule("third_party_document_shared_without_consent", "sharing_record",
         "a third-party document shared without its author's consent (granted)", "seed 002 s.4"),
    Rule("restricted_material_passed_on", "sharing_record",
         "a casenote under a restriction on further disclosure was shared", "seed 002 s.3; seed 004"),
    Rule("non_staff_access_without_reason", "access_log",
         "the family file was opened by someone other than paid staff with no reason recorded", "seed 003 s.2.5"),
    Rule("missing_privacy_notice", "case",
         "early-help case with no 'privacy notice shared with family' casenote within N days of opening", "seed 000"),
)
RULE_CODES = tuple(rule.code for rule in RULES)

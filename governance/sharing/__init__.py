"""Consent, information sharing and file access: what families agreed, and whether practice matched.

- :mod:`~governance.sharing.consent`: consent state as of any day; research exclusions.
- :mod:`~governance.sharing.decision`: ``check_sharing`` (allowed / override_required / refused, with the basis).
- :mod:`~governance.sharing.open_cases`: whether a case was open on a day (the one rule).
- :mod:`~governance.sharing.log`: recipients from the sharing log, for access-request bundles.
- :mod:`~governance.sharing.rules`, :mod:`~governance.sharing.compliance`,
  :mod:`~governance.sharing.findings`: the daily compliance checks and their findings.
- :mod:`~governance.sharing.policy`: which services need consent; the rules and their sources.

The policy and its decisions are written up for the IG team in docs/sharing.md.
"""

from governance.sharing.consent import ConsentForm, consent_history, consent_in_force, research_excluded_family_ids
from governance.sharing.decision import SharingAnswer, check_sharing
from governance.sharing.log import recipients_for_person
from governance.sharing.policy import RULE_CODES, RULES

__all__ = [
    "ConsentForm",
    "SharingAnswer",
    "check_sharing",
    "consent_history",
    "consent_in_force",
    "recipients_for_person",
    "research_excluded_family_ids",
    "RULES",
    "RULE_CODES",
]

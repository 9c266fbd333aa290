"""Which families carry which deliberate problem, decided up front.

Each injected problem lands on its own family (families are drawn without
replacement), so every kind is counted exactly and kinds never mask each other.
The manifest lists the affected record identifiers per kind.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["DEFECT_KINDS", "VIOLATION_KINDS", "ProblemPlan", "make_plan"]

# Data-quality defects (issue: data quality). Each is one bad record.
DEFECT_KINDS = (
    "missing_closure_date",  # case closed, closure date empty
    "closure_before_opening",
    "future_closure_date",
    "future_casenote_date",
    "closed_without_reason",
    "implausible_birth_date",  # subject child born 1900-01-01, a legacy placeholder
    "orphan_casenote",  # casenote whose case does not exist
    "orphan_membership",  # membership whose person does not exist
    "orphan_document",  # document whose case does not exist
    "third_party_document_missing_consent",
    "unknown_opt_out_agency",  # an agency not on the consent form
    "sharing_without_lawful_basis",
    "dormant_open_case",  # open, nothing recorded for years
)
# Information-sharing and access violations (issue: sharing compliance).
VIOLATION_KINDS = (
    "share_to_opted_out_agency",
    "share_after_withdrawal",
    "family_not_informed_without_reason",
    "third_party_document_shared_without_consent",
    "restricted_material_passed_on",
    "non_staff_access_without_reason",
    "missing_privacy_notice",
)
# Problems that need a consent-based (early help / Home-Start) first case.
CONSENT_BASED = {
    "share_to_opted_out_agency",
    "share_after_withdrawal",
    "missing_privacy_notice",
    "unknown_opt_out_agency",
}


@dataclass(frozen=True)
class ProblemPlan:
    by_family: dict[int, str]
    planned: dict[str, int]

    def problem_for(self, family_index: int) -> str | None:
        return self.by_family.get(family_index)


def make_plan(
    families: int, seed: int, *, clean: bool, rate: float = 0.005, skip: frozenset[str] = frozenset()
) -> ProblemPlan:
    """Assign each problem kind to ``max(1, families * rate)`` distinct families.

    ``skip`` names kinds that cannot occur in this store (e.g. the early-help
    privacy notice in a Home-Start store); they are planned zero times.
    """
    kinds = tuple(k for k in DEFECT_KINDS + VIOLATION_KINDS if k not in skip)
    if clean or families <= 0:
        return ProblemPlan({}, {k: 0 for k in DEFECT_KINDS + VIOLATION_KINDS})
    per_kind = max(1, round(families * rate))
    wanted = min(families, per_kind * len(kinds))
    rng = random.Random(f"plan:{seed}:{families}")
    chosen = rng.sample(range(families), wanted)
    by_family: dict[int, str] = {}
    planned = {k: 0 for k in DEFECT_KINDS + VIOLATION_KINDS}
    for position, family_index in enumerate(chosen):
        kind = kinds[position % len(kinds)]
        by_family[family_index] = kind
        planned[kind] += 1
    return ProblemPlan(by_family, planned)

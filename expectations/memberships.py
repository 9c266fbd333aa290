"""Case memberships: who is on which case, in which role; both ends must exist."""

from __future__ import annotations

from governance.quality.rules import InVocabulary, KeyPresent, KeyUnique, LinkResolves, Present

__all__ = ["DATASET", "rules"]

DATASET = "memberships"


def rules() -> list:
    return [
        KeyPresent(entity="case_member"),
        KeyUnique(entity="case_member"),
        InVocabulary(entity="case_member", field="role"),
        Present(entity="case_member", field="case_id"),
        Present(entity="case_member", field="person_id"),
        LinkResolves(entity="case_member", field="case_id"),
        LinkResolves(entity="case_member", field="person_id"),
    ]

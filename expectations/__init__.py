"""Great Expectations suites over the case stores, code-first, one module per dataset.

Each module names its dataset and returns its rules (:mod:`governance.quality.rules`)
in logical names; :mod:`governance.quality.suites` turns them into one GX
expectation suite per entity for a given store, through that store's mapping.
Nothing here imports Great Expectations.

``DEFECT_RULES`` says which rule catches each deliberate defect the synthetic
generator injects (``governance.stores.synthetic.plan.DEFECT_KINDS``); the
tests hold every rule to the generator's manifest, record for record.
"""

from __future__ import annotations

import importlib

__all__ = ["DATASETS", "DEFECT_RULES", "dataset_rules", "all_rules"]

#: The datasets of a store mapping, in the order their suites run.
DATASETS = (
    "people",
    "cases",
    "memberships",
    "casenotes",
    "documents",
    "consents",
    "sharing_records",
    "access_log",
)

#: Generator defect kind -> the rule that catches it.
DEFECT_RULES = {
    "missing_closure_date": "case.closed_on.present_when_closed",
    "closure_before_opening": "case.closed_on.not_before_opened_on",
    "future_closure_date": "case.closed_on.not_in_future",
    "future_casenote_date": "casenote.written_on.not_in_future",
    "closed_without_reason": "case.closure_reason.present_when_closed",
    "implausible_birth_date": "person.date_of_birth.plausible_for_role",
    "orphan_casenote": "casenote.case_id.resolves",
    "orphan_membership": "case_member.person_id.resolves",
    "orphan_document": "document.case_id.resolves",
    "third_party_document_missing_consent": "document.author_consent.present_when_third_party",
    "unknown_opt_out_agency": "consent_opt_out.agency.in_vocabulary",
    "sharing_without_lawful_basis": "sharing_record.lawful_basis.present_when_shared",
    "dormant_open_case": "case.activity.recent_when_open",
}


def dataset_rules(dataset: str) -> list:
    """The rules of one dataset (see :data:`DATASETS`)."""
    if dataset not in DATASETS:
        raise KeyError(f"no dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return list(importlib.import_module(f"expectations.{dataset}").rules())


def all_rules() -> dict[str, list]:
    """dataset -> its rules, for every dataset."""
    return {dataset: dataset_rules(dataset) for dataset in DATASETS}

"""Sharing records: every decision to share names a lawful basis from the model's list.

Whether a share broke consent (opt-outs, withdrawal, third-party documents,
restricted material) is the sharing-compliance capability's question; here
only the record itself is checked: its codes, its date, its links, and that
a *shared* decision carries its lawful basis (a decision not to share needs none).
"""

from __future__ import annotations

from governance.quality.rules import InVocabulary, KeyPresent, KeyUnique, LinkResolves, NotFuture, Present, PresentWhen, Readable

__all__ = ["DATASET", "rules"]

DATASET = "sharing_records"
_CODED = ("decision", "recipient_agency", "lawful_basis", "consent_status", "override_reason")


def rules() -> list:
    return [
        KeyPresent(entity="sharing_record"),
        KeyUnique(entity="sharing_record"),
        Present(entity="sharing_record", field="shared_on"),
        Readable(entity="sharing_record", field="shared_on"),
        NotFuture(entity="sharing_record", field="shared_on"),
        *(InVocabulary(entity="sharing_record", field=name) for name in _CODED),
        PresentWhen(entity="sharing_record", field="lawful_basis", when="decision", value="shared", label="shared"),
        LinkResolves(entity="sharing_record", field="case_id"),
        LinkResolves(entity="sharing_record", field="casenote_id"),
        LinkResolves(entity="sharing_record", field="document_id"),
    ]

"""Documents: each belongs to an existing case; a third-party document records its author's consent.

Third-party documents belong to their author and are shared only with the
author's written consent (seed 002 s.4), so a third-party document without an
author-consent status cannot be handled safely by sharing or access requests.
"""

from __future__ import annotations

from governance.quality.rules import InVocabulary, KeyPresent, KeyUnique, LinkResolves, NotFuture, Present, PresentWhen, Readable

__all__ = ["DATASET", "rules"]

DATASET = "documents"


def rules() -> list:
    return [
        KeyPresent(entity="document"),
        KeyUnique(entity="document"),
        Present(entity="document", field="case_id"),
        Present(entity="document", field="object_key"),
        Readable(entity="document", field="created_on"),
        NotFuture(entity="document", field="created_on"),
        InVocabulary(entity="document", field="author_consent"),
        PresentWhen(entity="document", field="author_consent", when="third_party", value=True, label="third_party"),
        LinkResolves(entity="document", field="case_id"),
    ]

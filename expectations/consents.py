"""Consent forms and their per-agency opt-outs (seed 001).

An opt-out names one of the agencies printed on the early-help consent form
(``governance.stores.model.AGENCIES``), compared after the store's own codes
are translated: a store that writes ``CSC`` for children's social care passes.
"""

from __future__ import annotations

from governance.quality.rules import InVocabulary, KeyPresent, KeyUnique, LinkResolves, NotBefore, NotFuture, Present

__all__ = ["DATASET", "rules"]

DATASET = "consents"


def rules() -> list:
    return [
        KeyPresent(entity="consent"),
        KeyUnique(entity="consent"),
        Present(entity="consent", field="given_on"),
        NotFuture(entity="consent", field="given_on"),
        NotFuture(entity="consent", field="withdrawn_on"),
        NotBefore(entity="consent", field="withdrawn_on", other="given_on"),
        LinkResolves(entity="consent", field="family_id"),
        LinkResolves(entity="consent", field="case_id"),
        LinkResolves(entity="consent", field="given_by"),
        KeyPresent(entity="consent_opt_out"),
        KeyUnique(entity="consent_opt_out"),
        InVocabulary(entity="consent_opt_out", field="agency"),
        LinkResolves(entity="consent_opt_out", field="consent_id"),
    ]

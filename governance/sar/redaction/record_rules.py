"""Record rules: whole records withheld because of what they are, not what they say.

- casenotes flagged as police intelligence: DPA 2018 Sch. 2 Part 1 para 2
  (crime and taxation), seed 004;
- casenotes flagged as restricted from further disclosure by the agency that
  supplied them;
- third-party documents (written by another agency) without their author's
  written consent to share (seed 002 s.4): ``granted`` is the only consent;
- casenotes flagged as holding third-party information (who told us what:
  an informant, a relative's account): proposed for withholding under
  Sch. 2 Part 3 para 16 and marked ``needs_decision``. Removing names is not
  enough for such a note (a role such as "MGM" can identify the informant),
  so it is not released until a reviewer decides: withhold it
  (``governance sar decide --withhold``) or release it with its redactions
  (``--release``). Until then the review pack cannot be approved, except by an
  approval that accepts the proposed withholding of every undecided note.

A reviewer can lift a withholding with a reason (``governance sar lift``); the
record's text then goes through the span rules like any other.
"""

from __future__ import annotations

from governance.sar.discovery import Record
from governance.sar.exemptions import CRIME, RESTRICTED, THIRD_PARTY, THIRD_PARTY_DOCUMENT
from governance.sar.redaction.base import Redaction, RedactionContext, RedactionRule, register_rule

__all__ = ["FlagRule", "ThirdPartyDocumentRule", "THIRD_PARTY_INFORMATION_RULE", "needs_decision"]

THIRD_PARTY_INFORMATION_RULE = "third_party_information_flag"


class FlagRule(RedactionRule):
    """Withhold a record of ``entity`` whose boolean ``flag`` is set.

    ``needs_decision``: the withholding is a proposal a reviewer must decide on.
    """

    whole_record = True

    def __init__(self, name: str, entity: str, flag: str, code: str, *, needs_decision: bool = False) -> None:
        self.name, self.entity, self.flag, self.codes = name, entity, flag, (code,)
        self.needs_decision = needs_decision

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        if record.entity == self.entity and bool(record.meta.get(self.flag)):
            return [self.withhold(record, self.codes[0])]
        return []


class ThirdPartyDocumentRule(RedactionRule):
    name = "third_party_document_without_consent"
    codes = (THIRD_PARTY_DOCUMENT,)
    whole_record = True

    def apply(self, record: Record, context: RedactionContext) -> list[Redaction]:
        if record.entity == "document" and record.meta.get("third_party") and record.meta.get("author_consent") != "granted":
            return [self.withhold(record, THIRD_PARTY_DOCUMENT)]
        return []


register_rule(FlagRule("police_intelligence", "casenote", "police_intelligence", CRIME))
register_rule(FlagRule("restricted_disclosure", "casenote", "restricted_disclosure", RESTRICTED))
register_rule(ThirdPartyDocumentRule())
register_rule(FlagRule(THIRD_PARTY_INFORMATION_RULE, "casenote", "third_party_information", THIRD_PARTY,
                       needs_decision=True))


def needs_decision(redaction: Redaction) -> bool:
    """A proposed withholding a reviewer must decide on (by its rule)."""
    return redaction.source == "auto" and redaction.rule == THIRD_PARTY_INFORMATION_RULE

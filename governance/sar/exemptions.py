"""Exemption codes: what each redaction in a bundle cites, and who may apply it.

Every redaction carries one of these codes. Automatic rules may only use codes
with ``reviewer_only=False``; the social-work serious-harm test and child abuse
data are applied by a reviewer and confirmed by a second, different reviewer
(domain.md). The label is what the PDF prints in the redaction box.
"""

from __future__ import annotations

from dataclasses import dataclass

from governance.errors import ConfigError

__all__ = ["Exemption", "EXEMPTIONS", "exemption", "THIRD_PARTY", "THIRD_PARTY_DOCUMENT", "CRIME", "RESTRICTED"]


@dataclass(frozen=True)
class Exemption:
    code: str
    reference: str
    description: str
    reviewer_only: bool = False
    second_reviewer: bool = False


THIRD_PARTY = "SCH2-P16"
THIRD_PARTY_DOCUMENT = "TPDOC"
CRIME = "SCH2-P2"
RESTRICTED = "RESTRICTED"

EXEMPTIONS: dict[str, Exemption] = {
    e.code: e
    for e in (
        Exemption(THIRD_PARTY, "DPA 2018 Sch. 2 Part 3 para 16",
                  "information about another person (a family member or member of the public)"),
        Exemption(THIRD_PARTY_DOCUMENT, "DPA 2018 Sch. 2 Part 3 para 16; information-sharing protocol s.4",
                  "a document written by another agency, withheld without its author's written consent"),
        Exemption(CRIME, "DPA 2018 Sch. 2 Part 1 para 2",
                  "police intelligence: disclosure would be likely to prejudice the prevention or detection of crime"),
        Exemption(RESTRICTED, "DPA 2018 Sch. 2 Part 3 para 16; supplier's restriction on further disclosure",
                  "information supplied by another agency on condition it is not passed on"),
        Exemption("SCH2-P19", "DPA 2018 Sch. 2 Part 4 para 19", "legal professional privilege", reviewer_only=True),
        Exemption("SCH3-P9", "DPA 2018 Sch. 3 Part 3 para 9", "court data", reviewer_only=True),
        Exemption("SCH3-P10", "DPA 2018 Sch. 3 Part 3 para 10",
                  "a parent's request the child would not expect or want disclosed", reviewer_only=True),
        Exemption("SCH3-P11", "DPA 2018 Sch. 3 Part 3 para 11",
                  "social work data: disclosure would be likely to cause serious harm", reviewer_only=True,
                  second_reviewer=True),
        Exemption("SCH3-PT5", "DPA 2018 Sch. 3 Part 5", "child abuse data", reviewer_only=True, second_reviewer=True),
    )
}


def exemption(code: str) -> Exemption:
    try:
        return EXEMPTIONS[code]
    except KeyError:
        raise ConfigError(f"unknown exemption code {code!r}; known: {', '.join(EXEMPTIONS)}") from None

"""Casenote text that mentions people the way real notes do.

Notes name the children, parents, relatives and members of the public known to
the store (with their addresses and phone numbers), professionals in their role,
and people the store does not know, only through a phone number, e-mail,
postcode, NHS or National Insurance number. Each mention is tallied by kind so
redaction can be measured against known counts.
"""

from __future__ import annotations

import random
from collections import Counter

from governance.stores.synthetic import identifiers as ident
from governance.stores.synthetic import vocab

__all__ = ["NoteWriter", "Note"]


class Note:
    __slots__ = ("title", "body", "police_intelligence", "third_party_information", "mentions")

    def __init__(self, title: str, body: str, police: bool, third_party: bool, mentions: Counter) -> None:
        self.title = title
        self.body = body
        self.police_intelligence = police
        self.third_party_information = third_party
        self.mentions = mentions


def _name(p: dict) -> str:
    return f"{p['given_name']} {p['family_name']}"


class NoteWriter:
    def __init__(self, rng: random.Random, people: list[dict], professionals) -> None:
        self.rng = rng
        self.children = [p for p in people if p["role"] == "subject_child"]
        self.parents = [p for p in people if p["role"] == "parent_carer"]
        self.relatives = [p for p in people if p["role"] == "family_member"]
        self.public = [p for p in people if p["role"] == "member_of_public"]
        self.professionals = professionals

    def write(self, title: str, case_professionals: list) -> Note:
        rng = self.rng
        mentions: Counter = Counter()
        sentences: list[str] = []
        police = third_party = False
        child, parent = rng.choice(self.children), rng.choice(self.parents)
        prof = rng.choice(case_professionals)
        sentences.append(f"{prof.full_name} ({prof.job}) met {_name(parent)} and {child['given_name']} {child['family_name']}.")
        mentions.update(known_person_name=2, professional_name=1)
        for _ in range(rng.randint(1, 3)):
            kind = rng.randrange(9)
            if kind == 0 and self.public:
                p = rng.choice(self.public)
                sentences.append(f"Neighbour {_name(p)} of {p['address']} rang on {p['phone']} with a concern.")
                mentions.update(known_person_name=1, known_address=1, known_phone=1)
                third_party = True
            elif kind == 1 and self.relatives:
                p = rng.choice(self.relatives)
                sentences.append(f"{_name(p)} offered respite care and can be reached on {p['phone']}.")
                mentions.update(known_person_name=1, known_phone=1)
                third_party = True
            elif kind == 2:
                sentences.append(f"A friend of the family left a number, {ident.phone(rng)}, for call-backs.")
                mentions.update(pattern_phone=1)
                third_party = True
            elif kind == 3:
                sentences.append(
                    f"An e-mail from {ident.email(rng.choice(vocab.GIVEN_NAMES_ADULT), rng.choice(vocab.FAMILY_NAMES), rng)} was forwarded to the team manager."
                )
                mentions.update(pattern_email=1)
                third_party = True
            elif kind == 4:
                sentences.append(f"The child's NHS number {ident.nhs_number(rng)} was confirmed with the surgery.")
                mentions.update(pattern_nhs=1)
            elif kind == 5:
                sentences.append(f"An associate was named by police; NI number {ident.ni_number(rng)} was noted.")
                mentions.update(pattern_ni=1)
                police = third_party = True
            elif kind == 6:
                sentences.append(f"The family may move to a flat near {ident.postcode(rng)} in the spring.")
                mentions.update(pattern_postcode=1)
            elif kind == 7 and len(self.children) > 1:
                sibling = rng.choice(self.children)
                sentences.append(f"{sibling['given_name']} {sibling['family_name']} was seen alone and said school was going well.")
                mentions.update(known_person_name=1)
            else:
                other = rng.choice(self.professionals)
                sentences.append(f"Discussed attendance with {other.full_name}, {other.job} at {other.organisation}.")
                mentions.update(professional_name=1)
        return Note(title, " ".join(sentences), police, third_party, mentions)

    def privacy_notice(self, case_professionals: list) -> Note:
        prof = self.rng.choice(case_professionals)
        parent = self.rng.choice(self.parents)
        body = (
            f"{prof.full_name} gave {_name(parent)} the early help privacy notice and talked through "
            "what may be shared, with whom and why. No concerns raised."
        )
        return Note(vocab.PRIVACY_NOTICE_TITLE, body, False, False, Counter(known_person_name=1, professional_name=1))

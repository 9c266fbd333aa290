"""One contract every registered redaction rule keeps, and known answers for each rule."""

from __future__ import annotations

import copy
import random
from datetime import date

import pytest

from governance.errors import ConfigError
from governance.sar.discovery import Record
from governance.sar.exemptions import EXEMPTIONS
from governance.sar.people import KnownPeople
from governance.sar.redaction import (
    WHOLE_RECORD,
    RedactionContext,
    RedactionRule,
    get_rule,
    redact_records,
    register_rule,
    rule_names,
)
from governance.stores.synthetic.identifiers import nhs_number

SUBJECT = {"id": "S1", "role": "subject_child", "given_name": "Amara", "family_name": "Pearce", "family_id": "F1",
           "address": "12 Mill Road, Fenwick", "postcode": "QA1 2AB", "phone": "07700 900001",
           "date_of_birth": date(2015, 3, 7)}
PEOPLE = [
    SUBJECT,
    {"id": "S2", "role": "parent_carer", "given_name": "Donna", "family_name": "Pearce", "aliases": "Don Pearce",
     "family_id": "F1", "address": "12 Mill Road, Fenwick", "postcode": "QA1 2AB", "phone": "07700 900111",
     "email": "donna.pearce11@example.org", "date_of_birth": date(1988, 5, 2)},
    {"id": "S3", "role": "member_of_public", "given_name": "Carl", "family_name": "Dalby", "family_id": "F1",
     "address": "5 Quarry Close", "postcode": "XR6 1JA", "phone": "0113 496 0222"},
    {"id": "S4", "role": "family_member", "given_name": "Kelly", "family_name": "Okafor", "family_id": "F1"},
]
PROFESSIONALS = [
    {"id": "W1", "role": "professional", "given_name": "Kelly", "family_name": "Okafor", "organisation": "CSC"},
    {"id": "W2", "role": "professional", "given_name": "Tomasz", "family_name": "Varga", "organisation": "Health",
     "phone": "020 7946 0500"},
]
NHS = nhs_number(random.Random(5))
TEXT = (
    "Tomasz Varga (social worker) met Donna Pearce and Amara Pearce. Neighbour Carl Dalby of 5 Quarry Close rang on "
    "0113 496 0222. Donna can be reached on 07700900111 or donna.pearce11@example.org; Don Pearce was born 02/05/1988. "
    "Call 020 7946 0999 or write to stranger.one42@example.org. NHS number " + NHS + ", NI QQ 12 34 56 A, near "
    "XR6 1JA. Amara's phone 07700 900001 and postcode QA1 2AB stay; Tomasz Varga's desk is 020 7946 0500. "
    "Kelly Okafor was there. Ten digits 123 456 7890 are no NHS number."
)


def _context(requester: str | None = None) -> RedactionContext:
    return RedactionContext(KnownPeople(SUBJECT, PEOPLE, PROFESSIONALS, requester_person_id=requester))


def _note(text: str = TEXT, note_id: str = "N1", **flags) -> Record:
    return Record("casenote", note_id, "C1", "2026-01-01", fields={"title": "Home visit", "body": text}, meta=flags)


RECORDS = [
    _note(),
    _note("", "N2", police_intelligence=True),
    _note("Restricted text about Carl Dalby", "N3", restricted_disclosure=True, police_intelligence=True),
    Record("document", "D1", "C1", "2026-01-02", fields={"title": "Police notification", "text": "about Donna Pearce"},
           meta={"third_party": True, "author_consent": "refused"}),
    Record("document", "D2", "C1", "2026-01-02", fields={"title": "Report", "text": "Report: Carl Dalby."},
           meta={"third_party": True, "author_consent": "granted"}),
    Record("sharing_record", "R1", "C1", "2026-01-03", fields={"information": "plan for Amara Pearce"}, meta={}),
    Record("access_log", "A1", "C1", "2026-01-04", meta={"accessed_by": "sw.okoro"}),
]


@pytest.mark.parametrize("name", rule_names())
def test_every_rule_keeps_the_contract(name: str) -> None:
    rule = get_rule(name)
    assert isinstance(rule, RedactionRule) and rule.name == name
    assert rule.codes, f"{name} cites no exemption code"
    for code in rule.codes:
        assert code in EXEMPTIONS and not EXEMPTIONS[code].reviewer_only, f"{name} cites reviewer-only {code}"
    context = _context()
    for record in RECORDS:
        before = copy.deepcopy(record)
        found = rule.apply(record, context)
        assert found == rule.apply(record, context), f"{name} is not deterministic"
        assert (record.fields, record.meta) == (before.fields, before.meta), f"{name} changed the record"
        for r in found:
            assert (r.entity, r.record_id) == record.key
            assert r.code in rule.codes
            assert r.rule and r.source == "auto"
            if rule.whole_record:
                assert r.field == WHOLE_RECORD and r.start == r.end == 0
            else:
                assert r.field in record.fields
                assert 0 <= r.start < r.end <= len(record.fields[r.field]), f"{name}: span outside the text"
    empty = Record("casenote", "N0", "C1", None, fields={"title": "", "body": ""}, meta={})
    assert [r for r in rule.apply(empty, context) if not r.withholds] == []


def test_reviewer_only_codes_cannot_be_registered_for_a_rule() -> None:
    class SeriousHarm(RedactionRule):
        name = "automatic_serious_harm"
        codes = ("SCH3-P11",)

        def apply(self, record, context):
            return []

    with pytest.raises(ConfigError, match="only a reviewer"):
        register_rule(SeriousHarm())
    with pytest.raises(ConfigError, match="twice"):
        register_rule(get_rule("pattern_phone"))


def _redacted(record: Record, context: RedactionContext | None = None) -> tuple[list[str], list]:
    result = redact_records([record], context or _context())
    items = result.get(record.key, [])
    return [record.fields[r.field][r.start:r.end] for r in items if not r.withholds], items


def test_known_answers_for_the_span_rules() -> None:
    texts, items = _redacted(_note())
    assert texts == [
        "Donna Pearce", "Carl Dalby", "5 Quarry Close", "0113 496 0222", "Donna", "07700900111",
        "donna.pearce11@example.org", "Don Pearce", "02/05/1988", "020 7946 0999", "stranger.one42@example.org",
        NHS, "QQ 12 34 56 A", "XR6 1JA", "Kelly Okafor",
    ]
    assert {r.code for r in items} == {"SCH2-P16"}
    rules = {r.rule for r in items}
    assert {"known_person_name", "known_person_address", "known_person_phone", "known_person_given_name",
            "known_person_email", "known_person_dob", "pattern_phone", "pattern_email", "pattern_nhs_number",
            "pattern_ni_number", "pattern_postcode"} <= rules


def test_professionals_in_role_and_the_subjects_own_details_are_kept() -> None:
    texts, _ = _redacted(_note())
    for kept in ("Tomasz Varga", "Amara Pearce", "07700 900001", "QA1 2AB", "020 7946 0500", "123 456 7890"):
        assert kept not in texts
    # "Kelly Okafor" is both a professional and a family member: the stricter reading (redact), counted for review.
    people = KnownPeople(SUBJECT, PEOPLE, PROFESSIONALS)
    assert people.ambiguous_names == ["kelly okafor"]


def test_the_requester_is_not_a_third_party_to_themself() -> None:
    texts, _ = _redacted(_note(), _context(requester="S2"))
    assert "Donna Pearce" not in texts and "donna.pearce11@example.org" not in texts
    assert "Carl Dalby" in texts


def test_known_answers_for_the_record_rules() -> None:
    result = redact_records(RECORDS, _context())
    withheld = {key: sorted(r.code for r in items) for key, items in result.items() if any(r.withholds for r in items)}
    assert withheld == {("casenote", "N2"): ["SCH2-P2"], ("casenote", "N3"): ["RESTRICTED", "SCH2-P2"],
                        ("document", "D1"): ["TPDOC"]}
    assert not any(r.withholds for r in result[("document", "D2")])  # consent granted: shown, redacted
    assert ("access_log", "A1") not in result


def test_a_lifted_withholding_lets_the_text_through_redacted() -> None:
    record = _note("Carl Dalby was named.", police_intelligence=True)
    result = redact_records([record], _context(), lifted=[("casenote", "N1", "SCH2-P2")])
    assert [(r.code, r.rule) for r in result[record.key]] == [("SCH2-P16", "known_person_name")]

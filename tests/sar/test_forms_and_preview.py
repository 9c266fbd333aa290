"""The trigger form's values as a lodging, and the reviewer's preview, without a database."""

from __future__ import annotations

from datetime import date

import pytest

from governance.sar.discovery import Discovery, Record
from governance.sar.export import assemble
from governance.sar.forms import decision_from_response, lodging_from_params
from governance.sar.people import KnownPeople
from governance.sar.preview import build_preview, find_label, locate, preview_html, preview_text
from governance.sar.process import Workset
from governance.sar.redaction import RedactionContext, redact_records
from governance.sar.register import RequestError

# What the form submits for a self-request: the two fields typed, every other one empty (null).
EMPTY_FORM = {"request_id": None, "store": "default", "subject_person_id": None, "received_on": None,
              "requester_kind": "subject", "identity_requested": False, "requester_person_id": None,
              "parent_basis": None, "child_competence": None, "competence_assessed_by": None,
              "competence_assessed_on": None, "child_view": None, "authority_evidence": None,
              "authority_requested": False}


def test_a_self_request_needs_two_fields_and_ignores_the_parents_section() -> None:
    typed = {**EMPTY_FORM, "subject_person_id": " P-17 ", "received_on": "2026-06-01",
             "parent_basis": "child_best_interest", "authority_requested": True}  # left over: not a parent's request
    assert lodging_from_params(typed) == {"store": "default", "subject_person_id": "P-17",
                                          "received_on": date(2026, 6, 1), "requester_kind": "subject",
                                          "identity_requested": False, "authority_requested": False}


@pytest.mark.parametrize("changes, message", [
    ({"received_on": None}, "form field received_on is needed"),
    ({"subject_person_id": ""}, "form field subject_person_id is needed"),
    ({"received_on": "1 June 2026"}, "form field received_on is not a date"),
    ({"requester_kind": "parent_carer", "parent_basis": "child_best_interest", "child_competence": "competent",
      "competence_assessed_by": "Priya Nandakumar", "competence_assessed_on": "2026-05-28"}, "child_view"),
    ({"requester_kind": "agent"}, "authority evidence"),
])
def test_bad_form_input_is_refused_in_one_line(changes, message) -> None:
    with pytest.raises(RequestError, match=message) as refused:
        lodging_from_params({**EMPTY_FORM, "subject_person_id": "P-17", "received_on": "2026-06-01", **changes})
    assert "\n" not in str(refused.value)


def test_the_review_answer_carries_the_flagged_notes_choice() -> None:
    answer = {"chosen_options": ["Approve"], "responded_by_user": {"id": "u7", "name": "reviewer.alice"},
              "params_input": {"send_back_reason": "other", "withhold_undecided_flagged_notes": True}}
    assert decision_from_response(answer) == ("approved", "reviewer.alice", None, True)


SUBJECT = {"id": "S1", "role": "subject_child", "given_name": "Tyler", "family_name": "Brook", "family_id": "F1"}
PEOPLE = [SUBJECT, {"id": "S2", "role": "parent_carer", "given_name": "Gemma", "family_name": "Brook",
                    "family_id": "F1", "phone": "01632 960444"}]
NOTES = [
    Record("casenote", "N1", "C1", "2026-01-05", fields={"title": "Home visit",
           "body": "Gemma Brook <b>said</b> Tyler was sleeping better. Gemma Brook rang again on 01632 960444."}),
    Record("casenote", "N2", "C1", "2026-01-06", fields={"title": "Call", "body": "Gemma Brook's sister called."},
           meta={"third_party_information": True}),
]


def _workset() -> Workset:
    discovery = Discovery("default", SUBJECT, NOTES, PEOPLE, [], [])
    people = KnownPeople(SUBJECT, PEOPLE, [])
    return Workset({"request_id": "sar-t"}, discovery, people, redact_records(NOTES, RedactionContext(people)), 0)


def _pack() -> dict:
    return {"request_id": "sar-t", "pack_hash": "h" * 64, "status": "in_review", "blocking": [],
            "needs_decision": [{"entity": "casenote", "record_id": "N2", "proposed": "SCH2-P16"}], "awaiting": [],
            "withheld": []}


def test_the_preview_labels_every_redaction_and_shows_what_a_flagged_note_would_carry() -> None:
    preview = build_preview(_workset(), _pack())
    again = build_preview(_workset(), _pack())
    n1, n2 = preview["records"]
    marks = [p for p in n1["fields"]["body"] if "label" in p]
    assert [m["text"] for m in marks] == ["Gemma Brook", "Gemma Brook", "01632 960444"]
    assert marks == [p for p in again["records"][0]["fields"]["body"] if "label" in p]  # stable labels
    assert "".join(p.get("t", p.get("text")) for p in n1["fields"]["body"]) == NOTES[0].fields["body"]
    assert n2["status"] == "needs_decision" and n2["withholdings"][0]["code"] == "SCH2-P16"
    assert [p["text"] for p in n2["fields"]["body"] if "label" in p] == ["Gemma Brook"]  # if released
    assert find_label(preview, marks[2]["label"])["text"] == "01632 960444"
    assert f"[[{marks[0]['label']} SCH2-P16 " in preview_text(preview)
    page = preview_html(preview)
    assert "&lt;b&gt;said&lt;/b&gt;" in page and "<b>" not in page  # record text is escaped
    assert page.count("<mark ") == 4


def test_the_bundle_shows_a_flagged_note_only_as_a_placeholder() -> None:
    ws = _workset()
    document = assemble(request={"request_id": "sar-t", "store": "default", "subject_person_id": "S1",
                                 "received_on": date(2026, 6, 1)}, deadline=None, discovery=ws.discovery,
                        redactions=ws.redactions, article15={}, as_of=date(2026, 6, 2))
    n2 = [r for s in document["sections"] for r in s["records"] if r["id"] == "N2"][0]
    assert n2 == {"entity": "casenote", "id": "N2", "case_id": "C1", "date": "2026-01-06", "details": {},
                  "withheld": ["SCH2-P16"], "fields": {}}


def test_quoted_text_is_found_without_offsets() -> None:
    fields = NOTES[0].fields
    at = fields["body"].index("sleeping better")
    assert locate(fields, "sleeping better") == ("body", at, at + len("sleeping better"))
    with pytest.raises(RequestError, match="occurs 2 times"):
        locate(fields, "Gemma Brook")
    assert locate(fields, "Gemma Brook", occurrence=2)[1] == fields["body"].rindex("Gemma Brook")
    with pytest.raises(RequestError, match="not in the record"):
        locate(fields, "Gemma Brooks")

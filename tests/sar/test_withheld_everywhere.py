"""Withheld in full, everywhere; flagged notes held for a decision; the reviewer reads and approves what goes out.

A store written by hand in the voice of a children-in-need file (every person,
address and number fictional). The canary ``QUOLLCANARY`` is planted in every
text field of every record the reviewer withholds: a sharing record (a MARAC
referral the family was not told about), a casenote, a consent form, an
access-log entry, and another agency's report withheld without its consent.
The delivered bundle is decrypted and every file searched: the canary, the
purpose and the reason must appear nowhere, and the cover letter must not
count the withheld share. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from governance.jobs import sar as jobs
from governance.jobs import sar_review
from governance.sar import package as pkg
from governance.sar import review
from governance.sar.preview import preview_html
from governance.sar.register import RequestError
from governance.state import state_engine
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore

CANARY = "QUOLLCANARY"
AT = datetime(2026, 6, 3, tzinfo=timezone.utc)
D = date.fromisoformat
SUBJECT = "HP-JADE"

NOTES = {
    "CN-101": ("Home visit", "Visited Jade at home after school. Jade showed me her room and talked about her GCSE "
               "options. Leanne Whitmore said things have been calmer since the new year.", False),
    "CN-102": ("Call from maternal grandmother", "MGM rang the duty line to say she had seen Craig Doyle outside the "
               "house on Friday night. She asked that the family are not told she called.", True),
    "CN-103": (f"Strategy note {CANARY}", f"Outcome of the MARAC discussion {CANARY}; safety planning with police.", False),
}


def _seed(settings) -> None:
    store = CaseStore.open(settings.store("default"))
    store.create_schema()
    sharing = dict(case_id="HC-1", recipient_agency="police", decision="shared", lawful_basis="significant_harm",
                   override_reason="significant_harm", consent_status="not_sought", family_informed=False,
                   restriction_on_disclosure=True)
    rows = {
        "family": [{"id": "HF-1", "household_name": "Whitmore", "address": "14 Larch Walk, Northmoor",
                    "postcode": "ZX1 4QP"}],
        "person": [
            {"id": SUBJECT, "family_id": "HF-1", "role": "subject_child", "given_name": "Jade", "family_name": "Whitmore",
             "date_of_birth": D("2010-03-14"), "address": "14 Larch Walk, Northmoor", "postcode": "ZX1 4QP"},
            {"id": "HP-MUM", "family_id": "HF-1", "role": "parent_carer", "given_name": "Leanne",
             "family_name": "Whitmore", "phone": "01632 960123", "date_of_birth": D("1988-09-02")},
            {"id": "HP-EX", "family_id": "HF-1", "role": "member_of_public", "given_name": "Craig",
             "family_name": "Doyle", "phone": "01632 960777"},
            {"id": "HX-SW", "family_id": None, "role": "professional", "given_name": "Priya",
             "family_name": "Nandakumar", "organisation": "Northmoor Children's Services"},
        ],
        "case": [{"id": "HC-1", "family_id": "HF-1", "case_type": "child_in_need", "status": "open",
                  "opened_on": D("2025-01-06")}],
        "case_member": [{"id": "HM-1", "case_id": "HC-1", "person_id": SUBJECT, "role": "subject_child"},
                        {"id": "HM-2", "case_id": "HC-1", "person_id": "HP-MUM", "role": "parent_carer"},
                        {"id": "HM-3", "case_id": "HC-1", "person_id": "HX-SW", "role": "professional"}],
        "casenote": [{"id": nid, "case_id": "HC-1", "author_id": "HX-SW", "written_on": D("2025-02-0" + nid[-1]),
                      "title": title, "body": body, "third_party_information": flagged, "police_intelligence": False,
                      "restricted_disclosure": False} for nid, (title, body, flagged) in NOTES.items()],
        "document": [{"id": "HD-7", "case_id": "HC-1", "object_key": "docs/HC-1/school-report.txt",
                      "title": f"School report {CANARY}", "author_organisation": "Larch Walk Academy",
                      "third_party": True, "author_consent": "refused", "created_on": D("2025-02-10")}],
        "consent": [{"id": f"HK-{CANARY}", "family_id": "HF-1", "case_id": "HC-1", "given_by": "HP-MUM",
                     "given_on": D("2025-01-06"), "consent_to_approach": True, "consent_to_share": True}],
        "sharing_record": [
            {"id": f"HS-{CANARY}", "shared_on": D("2025-02-04"), "information": f"Risk assessment {CANARY}",
             "purpose": f"MARAC referral {CANARY}", "decision_maker": f"Team manager {CANARY}",
             "not_informed_reason": f"Telling the family would put the mother at risk {CANARY}", **sharing},
            {"id": "HS-2", "case_id": "HC-1", "shared_on": D("2025-02-06"), "information": "Attendance figures",
             "recipient_agency": "education", "purpose": "Support plan review: Craig Doyle has moved back nearby",
             "decision": "shared",
             "lawful_basis": "consent", "consent_status": "given", "family_informed": True,
             "restriction_on_disclosure": False},
        ],
        "access_log": [{"id": f"HA-{CANARY}", "case_id": "HC-1", "accessed_by": f"Refuge worker {CANARY}",
                        "is_staff": False, "reason": f"Safety planning {CANARY}",
                        "accessed_at": datetime(2025, 2, 5, 10, 30)}],
    }
    with store.engine.begin() as conn:
        for entity, items in rows.items():
            store.insert(conn, entity, items)
    store.engine.dispose()
    open_objects(settings).put("docs/HC-1/school-report.txt", f"Jade's attendance {CANARY} report".encode())


def _withhold(settings, rid, entity, record_id) -> int:
    with state_engine(settings).begin() as conn:
        first = review.apply_exemption(conn, rid, entity=entity, record_id=record_id, code="SCH3-P11",
                                       reason="disclosure likely to cause serious harm to the mother", by="alice", at=AT)
    return first


def test_withheld_records_leave_no_trace_and_flagged_notes_wait_for_a_decision(settings) -> None:
    _seed(settings)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=D("2026-06-01"),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)

    # The flagged note is proposed for withholding (SCH2-P16) and blocks approval until decided.
    pack = jobs.prepare_review(settings, rid)
    assert pack["needs_decision"] == [{"entity": "casenote", "record_id": "CN-102", "proposed": "SCH2-P16"}]
    assert any("need a decision" in b for b in pack["blocking"])
    with pytest.raises(RequestError, match="need a decision"):
        jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                           channel="cli", actor="cli:carol")

    # Serious harm on four records of four kinds: a second reviewer is needed, and listed as awaited.
    ids = [_withhold(settings, rid, e, r) for e, r in (("sharing_record", f"HS-{CANARY}"), ("casenote", "CN-103"),
                                                        ("consent", f"HK-{CANARY}"), ("access_log", f"HA-{CANARY}"))]
    awaiting = sar_review.awaiting_second_reviewer(settings, rid)
    assert [a["exemption_id"] for a in awaiting["awaiting"]] == ids
    with state_engine(settings).begin() as conn:
        for exemption_id in ids:
            review.confirm_exemption(conn, exemption_id, by="bob", at=AT)

    # The reviewer reads what goes out: labelled redactions, the flagged note with what it would carry if released.
    preview = sar_review.preview_request(settings, rid)
    by_id = {r["record_id"]: r for r in preview["records"]}
    assert by_id["CN-102"]["status"] == "needs_decision"
    assert by_id[f"HS-{CANARY}"]["status"] == "withheld_silently"
    assert by_id["HD-7"]["status"] == "withheld"
    marks = [p for p in by_id["CN-101"]["fields"]["body"] if "label" in p]
    assert [(m["text"], m["code"]) for m in marks] == [("Leanne Whitmore", "SCH2-P16")]
    page = preview_html(preview)
    assert f'data-label="{marks[0]["label"]}"' in page and "<mark" in page

    # Add a redaction by quoting text, lift one by its label; each change moves the pack hash.
    added = sar_review.redact_quote(settings, rid, record_id="CN-101", quote="GCSE options", code="SCH2-P16",
                                    reason="identifies the school year", by="alice")
    with pytest.raises(RequestError, match="not in the record"):
        sar_review.redact_quote(settings, rid, record_id="CN-101", quote="A levels", code="SCH2-P16", reason="x",
                                by="alice")
    lifted = sar_review.lift_label(settings, rid, label=added["label"], reason="on reflection, harmless", by="alice")
    assert lifted["pack_hash"] != added["pack_hash"]

    # Approval is bound to the pack shown: a stale hash is refused; the current one (flagged note withheld) passes.
    pack = jobs.prepare_review(settings, rid)
    with pytest.raises(RequestError, match="changed since"):
        jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=added["pack_hash"],
                           channel="cli", actor="cli:carol", withhold_undecided=True)
    approved = jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                                  channel="cli", actor="cli:carol", withhold_undecided=True)
    assert approved["status"] == "approved"
    preview = sar_review.preview_request(settings, rid)
    assert preview["pack_hash"] == approved["pack_hash"] and not preview["needs_decision"]

    built = jobs.build_bundle(settings, rid, as_of=D("2026-06-20"))
    delivered = jobs.deliver_bundle(settings, rid, as_of=D("2026-06-20"), actor="test")
    key = bytes.fromhex(Path(delivered["key_file"]).read_text().splitlines()[-1])
    files, _, problems = pkg.open_package(open_objects(settings).get(f"sar/{rid}/bundle.enc"), key)
    assert problems == []
    document = json.loads(files["bundle.json"])

    # Nothing of a withheld record anywhere in the delivered bundle: JSON, PDF (as a viewer reads it), README.
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(files["bundle.pdf"])
    try:
        pdf_text = " ".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
    finally:
        pdf.close()
    everything = " ".join([pdf_text, *(data.decode("latin-1") for data in files.values())])
    for leaked in (CANARY, "MARAC", "put the mother at risk", "Refuge worker", "Craig Doyle", "MGM",
                   "outside the house", "Leanne Whitmore"):
        assert leaked not in everything, leaked
    # The silently withheld leave no placeholder; the acknowledged keep their place, kind, date and code only.
    listed = {r["id"]: r for s in document["sections"] for r in s["records"]}
    assert set(listed) >= {"CN-101", "CN-102", "HS-2"} and not any(CANARY in i for i in listed)
    assert listed["CN-102"]["withheld"] == ["SCH2-P16"] and listed["CN-102"]["fields"] == {}
    assert listed["HD-7"] == {"entity": "document", "id": "HD-7", "case_id": "HC-1",
                                      "date": "2025-02-10", "details": {}, "withheld": ["TPDOC"], "fields": {}}
    # The cover letter counts only what is released: the share to the police is not a recipient.
    letter = document["article15"]
    assert letter["recipients"] == [{"agency": "education", "times_shared": 1}]
    # A released share's free text is redacted like its information: the purpose names a third party.
    assert listed["HS-2"]["fields"]["purpose"]["text"] == "Support plan review: [REDACTED SCH2-P16] has moved back nearby"
    assert "purpose" not in listed["HS-2"]["details"]
    assert "a log of who opened your file" not in letter["categories"]
    assert "SCH3-P11" not in document["exemptions"] and "SCH3-P11" not in pdf_text

    # The bundle is the approved pack: each released text is the preview's, with boxes for its labels.
    assert document["request"]["review_pack"] == approved["pack_hash"] == built["pack_hash"]
    for record in preview["records"]:
        if record["status"] in ("released", "redacted") and record["fields"]:
            for name, parts in record["fields"].items():
                shown = "".join(p["t"] if "t" in p else f"[REDACTED {p['code']}]" for p in parts)
                assert listed[record["record_id"]]["fields"][name]["text"] == shown


def test_a_store_changed_after_approval_is_not_bundled(sqlite_settings) -> None:
    settings = sqlite_settings
    _seed(settings)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=D("2026-06-01"),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    pack = jobs.prepare_review(settings, rid)
    jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                       channel="cli", actor="cli:carol", withhold_undecided=True)
    jobs.build_bundle(settings, rid, as_of=D("2026-06-20"))
    stored = open_objects(settings).get(f"sar/{rid}/bundle.enc")

    store = CaseStore.open(settings.store("default"))
    with store.engine.begin() as conn:  # a worker adds a name to an approved note
        conn.execute(store.table("casenote").update().where(store.raw("casenote", "id") == "CN-101")
                     .values({store.raw("casenote", "body"): "Craig Doyle was there too."}))
    store.engine.dispose()
    with pytest.raises(RequestError, match="differ from discovery"):
        jobs.build_bundle(settings, rid, as_of=D("2026-06-21"))
    assert open_objects(settings).get(f"sar/{rid}/bundle.enc") == stored  # the approved bundle, unchanged

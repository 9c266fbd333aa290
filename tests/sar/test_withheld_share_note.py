"""A withheld share withholds the casenote it passed on: the bundle, the preview and the pack agree.

A store written by hand in the voice of a children-in-need file (every person,
address and number fictional). Two casenotes were passed on by sharing
records the reviewer withholds:

- CN-201, a neighbour's call about the home, shared with the police (HS-201);
  the share is withheld under Sch. 2 Part 3 para 16: it would identify the
  neighbour who rang. Her account sits in the note the share passed on.
- CN-202, the notes of a referral to the domestic-abuse service (HS-202), the
  share withheld under Sch. 3 Part 3 para 11 (serious harm to the mother,
  confirmed by a second reviewer): a silent withholding, so neither the share
  nor its note may leave a trace.

- HD-204, the housing officer's letter about the flat, passed to the police
  (HS-204); that share is withheld under Sch. 2 Part 1 para 2 at the police's
  request (an open investigation), and the letter with it.

CN-203 is an ordinary visit note, shared with the school (HS-203, released): it
must go out as usual. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

from governance.jobs import sar as jobs
from governance.jobs import sar_review
from governance.sar import package as pkg
from governance.sar import review
from governance.state import state_engine
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore

AT = datetime(2026, 6, 3, tzinfo=timezone.utc)
D = date.fromisoformat
SUBJECT = "WP-TIA"
NEIGHBOUR = "WOMBATNEIGHBOUR"  # planted in the neighbour's account
REFUGE = "WOMBATREFUGE"  # planted in the referral notes
HOUSING = "WOMBATHOUSING"  # planted in the housing officer's letter

NOTES = {
    "CN-201": ("Call from neighbour", f"Neighbour at number 16 ({NEIGHBOUR}) rang the duty line: shouting from the "
                                      "flat most nights this week, and a man leaving at 2am on Thursday."),
    "CN-202": ("Referral notes", f"Mum disclosed controlling behaviour by her partner. Referral to the domestic-abuse "
                                 f"service agreed with her; safe contact times only ({REFUGE})."),
    "CN-203": ("Home visit", "Visited Tia at home. Tia showed me her reading book; mum says mornings are calmer."),
}


def _share(sid: str, note: str | None, agency: str, day: str, **extra) -> dict:
    return {"id": sid, "case_id": "WC-1", "casenote_id": note, "shared_on": D(day), "recipient_agency": agency,
            "information": f"Copy of {note or extra.get('document_id')}", "purpose": "safeguarding", "decision": "shared",
            "lawful_basis": "significant_harm", "override_reason": "significant_harm", "consent_status": "not_sought",
            "family_informed": False, "not_informed_reason": "informing would raise the risk",
            "restriction_on_disclosure": False, **extra}


def _seed(settings) -> None:
    store = CaseStore.open(settings.store("default"))
    store.create_schema()
    rows = {
        "family": [{"id": "WF-1", "household_name": "Ashby", "address": "Flat 15, Mercer House, Eastwick",
                    "postcode": "ZX3 9QT"}],
        "person": [
            {"id": SUBJECT, "family_id": "WF-1", "role": "subject_child", "given_name": "Tia", "family_name": "Ashby",
             "date_of_birth": D("2016-08-19")},
            {"id": "WP-MUM", "family_id": "WF-1", "role": "parent_carer", "given_name": "Gemma",
             "family_name": "Ashby", "date_of_birth": D("1993-01-27"), "phone": "01632 960451"},
            {"id": "WX-SW", "family_id": None, "role": "professional", "given_name": "Tomasz",
             "family_name": "Lis", "organisation": "Eastwick Children's Services"},
        ],
        "case": [{"id": "WC-1", "family_id": "WF-1", "case_type": "child_in_need", "status": "open",
                  "opened_on": D("2025-11-03")}],
        "case_member": [{"id": "WM-1", "case_id": "WC-1", "person_id": SUBJECT, "role": "subject_child"},
                        {"id": "WM-2", "case_id": "WC-1", "person_id": "WP-MUM", "role": "parent_carer"},
                        {"id": "WM-3", "case_id": "WC-1", "person_id": "WX-SW", "role": "professional"}],
        "casenote": [{"id": nid, "case_id": "WC-1", "author_id": "WX-SW", "written_on": D("2025-12-0" + nid[-1]),
                      "title": title, "body": body, "third_party_information": False, "police_intelligence": False,
                      "restricted_disclosure": False} for nid, (title, body) in NOTES.items()],
        "document": [{"id": "HD-204", "case_id": "WC-1", "object_key": "docs/WC-1/housing-letter.txt",
                      "title": "Letter from the housing officer", "author_organisation": "Eastwick Homes",
                      "third_party": False, "created_on": D("2025-12-05")}],
        "sharing_record": [
            _share("HS-201", "CN-201", "police", "2025-12-02"),
            _share("HS-202", "CN-202", "voluntary_organisations", "2025-12-03"),
            _share("HS-203", "CN-203", "education", "2025-12-04", lawful_basis="consent", override_reason=None,
                   consent_status="given", family_informed=True, not_informed_reason=None),
            _share("HS-204", None, "police", "2025-12-06", document_id="HD-204"),
        ],
    }
    with store.engine.begin() as conn:
        for entity, items in rows.items():
            store.insert(conn, entity, items)
    store.engine.dispose()
    open_objects(settings).put("docs/WC-1/housing-letter.txt",
                               f"Repeated reports of visitors at night to flat 15 ({HOUSING}).".encode())


def test_a_withheld_share_withholds_its_note_with_the_same_exemption(settings) -> None:
    _seed(settings)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=D("2026-06-01"),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    with state_engine(settings).begin() as conn:
        review.apply_exemption(conn, rid, entity="sharing_record", record_id="HS-201", code="SCH2-P16",
                               reason="would identify the neighbour who rang", by="alice", at=AT)
        serious = review.apply_exemption(conn, rid, entity="sharing_record", record_id="HS-202", code="SCH3-P11",
                                         reason="disclosure likely to cause serious harm to the mother", by="alice",
                                         at=AT)
        review.confirm_exemption(conn, serious, by="bob", at=AT)
        review.apply_exemption(conn, rid, entity="sharing_record", record_id="HS-204", code="SCH2-P2",
                               reason="the police asked: an open investigation", by="alice", at=AT)

    # The reviewer sees the notes withheld with their shares, under the same codes, before approving.
    preview = sar_review.preview_request(settings, rid)
    by_id = {r["record_id"]: r for r in preview["records"]}
    assert (by_id["CN-201"]["status"], [w["code"] for w in by_id["CN-201"]["withholdings"]]) == ("withheld", ["SCH2-P16"])
    assert (by_id["CN-202"]["status"], [w["code"] for w in by_id["CN-202"]["withholdings"]]) == (
        "withheld_silently", ["SCH3-P11"])
    assert (by_id["HD-204"]["status"], [w["code"] for w in by_id["HD-204"]["withholdings"]]) == ("withheld", ["SCH2-P2"])
    assert by_id["CN-203"]["status"] in ("released", "redacted") and by_id["HS-203"]["status"] in ("released", "redacted")
    pack = jobs.prepare_review(settings, rid)
    withheld = {w["record_id"]: (w["codes"], w["silent"]) for w in pack["withheld"]}
    assert withheld["CN-201"] == (["SCH2-P16"], False) and withheld["CN-202"] == (["SCH3-P11"], True)

    approved = jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                                  channel="cli", actor="cli:carol")
    assert approved["status"] == "approved"
    jobs.build_bundle(settings, rid, as_of=D("2026-06-20"))
    delivered = jobs.deliver_bundle(settings, rid, as_of=D("2026-06-20"), actor="test")
    key = bytes.fromhex(Path(delivered["key_file"]).read_text().splitlines()[-1])
    files, _, problems = pkg.open_package(open_objects(settings).get(f"sar/{rid}/bundle.enc"), key)
    assert problems == []
    everything = " ".join(data.decode("latin-1") for data in files.values())
    for leaked in (NEIGHBOUR, "shouting from the flat", REFUGE, "controlling behaviour", "Referral notes", HOUSING,
                   "visitors at night"):
        assert leaked not in everything, leaked

    # The bundle is the preview: the same records withheld, under the same codes; silent ones absent from both.
    document = json.loads(files["bundle.json"])
    listed = {r["id"]: r for s in document["sections"] for r in s["records"]}
    assert listed["CN-201"]["withheld"] == ["SCH2-P16"] and listed["CN-201"]["fields"] == {}
    assert listed["HD-204"]["withheld"] == ["SCH2-P2"] and listed["HD-204"]["fields"] == {}
    assert "CN-202" not in listed and "HS-202" not in listed
    for record in preview["records"]:
        rid_ = record["record_id"]
        if record["status"] == "withheld_silently":
            assert rid_ not in listed, rid_
        elif record["status"] == "withheld":
            assert listed[rid_]["withheld"] == sorted({w["code"] for w in record["withholdings"]}), rid_
        elif record["entity"] in ("casenote", "document", "sharing_record"):
            assert listed[rid_]["withheld"] is None, rid_
    assert "Home visit" in everything  # the ordinary note still goes out


def test_a_reviewer_can_release_the_note_of_a_withheld_share_by_its_label(settings) -> None:
    _seed(settings)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=D("2026-06-01"),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    with state_engine(settings).begin() as conn:
        review.apply_exemption(conn, rid, entity="sharing_record", record_id="HS-201", code="SCH2-P16",
                               reason="would identify the neighbour who rang", by="alice", at=AT)
    preview = sar_review.preview_request(settings, rid)
    note = next(r for r in preview["records"] if r["record_id"] == "CN-201")
    [label] = [w["label"] for w in note["withholdings"]]
    sar_review.lift_label(settings, rid, label=label, reason="the note was rewritten without the caller", by="alice")
    after = {r["record_id"]: r for r in sar_review.preview_request(settings, rid)["records"]}
    assert after["CN-201"]["status"] in ("released", "redacted") and after["HS-201"]["status"] == "withheld"

"""Review: reviewer-only exemptions with a second reviewer, lifting, approvals bound to the pack."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from governance.jobs import sar as jobs
from governance.jobs import sar_forms as forms
from governance.sar import package as pkg
from governance.sar import review
from governance.sar.register import RequestError
from governance.sar.tables import redactions
from governance.state import state_engine
from governance.stores.seeding import open_objects, seed_store
from governance.stores.store import open_store

from tests.sar.conftest import release_flagged

AT = datetime(2026, 6, 2, tzinfo=timezone.utc)
SUBJECT = "P000000000"


@pytest.fixture
def request_id(settings) -> str:
    seed_store(settings, families=12, seed=7)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                             actor="test")["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    release_flagged(settings, rid)
    return rid


def _auto(settings, rid) -> list[dict]:
    with state_engine(settings).connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(redactions).where(redactions.c.request_id == rid)).mappings()]


def test_serious_harm_needs_a_second_reviewer_before_approval(settings, request_id) -> None:
    rid = request_id
    withheld = {r["record_id"] for r in _auto(settings, rid) if r["field"] == "*"}
    store = open_store(settings.store("default"))
    with store.engine.connect() as conn:
        note = next(n for n in conn.execute(store.select("casenote", ["id", "case_id"])
                                            .where(store.raw("casenote", "case_id") == "C00000000")).mappings()
                    if n["id"] not in withheld)["id"]
    with state_engine(settings).begin() as conn:
        exemption = review.apply_exemption(conn, rid, entity="casenote", record_id=note, code="SCH3-P11",
                                           reason="disclosure likely to cause serious harm", by="alice", at=AT,
                                           field="body", start=0, end=12)
    pack = jobs.prepare_review(settings, rid)
    assert pack["awaiting_second_reviewer"] == 1 and pack["blocking"]
    assert "SCH3-P11" not in pack["redactions_by_code"]  # not in force until confirmed
    with pytest.raises(RequestError, match="cannot be approved"):
        jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                           channel="cli", actor="cli:carol")
    with state_engine(settings).begin() as conn, pytest.raises(RequestError, match="other than"):
        review.confirm_exemption(conn, exemption, by="alice", at=AT)
    with state_engine(settings).begin() as conn:
        review.confirm_exemption(conn, exemption, by="bob", at=AT)
    confirmed = jobs.prepare_review(settings, rid)
    assert confirmed["redactions_by_code"]["SCH3-P11"] == 1 and not confirmed["blocking"]
    with pytest.raises(RequestError, match="changed since"):
        jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                           channel="cli", actor="cli:carol")
    jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=confirmed["pack_hash"],
                       channel="cli", actor="cli:carol")

    built = jobs.build_bundle(settings, rid, as_of=date(2026, 6, 20))
    assert built["counts"]["code.SCH3-P11"] == 1
    delivered = jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")
    key = bytes.fromhex(Path(delivered["key_file"]).read_text().splitlines()[-1])
    files, _, _ = pkg.open_package(open_objects(settings).get(f"sar/{rid}/bundle.enc"), key)
    records = {r["id"]: r for s in json.loads(files["bundle.json"])["sections"] for r in s["records"]}
    assert records[note]["fields"]["body"]["segments"][0] == {"code": "SCH3-P11"}


def test_a_reviewer_can_lift_an_automatic_withholding(settings, request_id) -> None:
    rid = request_id
    police = sorted(r["record_id"] for r in _auto(settings, rid) if r["code"] == "SCH2-P2")
    restricted = {r["record_id"] for r in _auto(settings, rid) if r["code"] == "RESTRICTED"}
    target = next(n for n in police if n not in restricted)
    before = jobs.prepare_review(settings, rid)
    with state_engine(settings).begin() as conn:
        review.lift_withholding(conn, rid, entity="casenote", record_id=target, code="SCH2-P2",
                                reason="intelligence now public in court", by="alice", at=AT)
    after = jobs.prepare_review(settings, rid)
    assert after["redactions_by_code"]["SCH2-P2"] == before["redactions_by_code"]["SCH2-P2"] - 1
    assert after["withholdings_lifted"] == before["withholdings_lifted"] + 1
    assert after["pack_hash"] != before["pack_hash"]


def test_airflow_approval_of_a_changed_pack_is_sent_back(settings, request_id) -> None:
    rid = request_id
    pack = forms.prepare_review_for_airflow(settings, rid)
    assert "| SCH2-P16 |" in pack["markdown"]
    response = {"chosen_options": ["Approve"], "params_input": {"send_back_reason": "other"},
                "responded_by_user": {"id": "dave", "name": "dave"}}
    stale = {**pack, "pack_hash": "0" * 64}
    result = forms.record_airflow_review(settings, stale, response, actor="airflow:subject_access")
    assert result["approved"] is False and result["status"] == "in_progress"
    result = forms.record_airflow_review(settings, pack, response, actor="airflow:subject_access")
    assert result["approved"] is True and result["status"] == "approved"


def test_a_record_changed_after_discovery_stops_the_request(settings, request_id) -> None:
    store = open_store(settings.store("default"))
    with store.engine.begin() as conn:
        conn.execute(store.table("casenote").update().where(store.raw("casenote", "case_id") == "C00000000")
                     .values({store.raw("casenote", "body"): "rewritten"}))
    with pytest.raises(RequestError, match="differ from discovery"):
        jobs.redact_request(settings, request_id)
    jobs.discover_request(settings, request_id)  # searched again: fine
    assert jobs.redact_request(settings, request_id)["request_id"] == request_id


def test_bundle_refuses_without_approval(settings, request_id) -> None:
    with pytest.raises(RequestError, match="no approval"):
        jobs.build_bundle(settings, request_id, as_of=date(2026, 6, 20))
    with pytest.raises(RequestError, match="only an approved request"):
        jobs.deliver_bundle(settings, request_id, as_of=date(2026, 6, 20), actor="test")


def test_a_change_after_approval_withdraws_it_and_the_old_bundle_is_not_delivered(settings, request_id) -> None:
    rid = request_id
    pack = jobs.prepare_review(settings, rid)
    jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                       channel="cli", actor="cli:carol")
    jobs.build_bundle(settings, rid, as_of=date(2026, 6, 20))
    with state_engine(settings).begin() as conn:
        review.apply_exemption(conn, rid, entity="casenote", record_id="C00000000-N000", code="SCH2-P19",
                               reason="legal advice to the council", by="alice", at=AT)
    with pytest.raises(RequestError, match="only an approved request"):
        jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")
    pack = jobs.prepare_review(settings, rid)
    jobs.record_review(settings, rid, decision="approved", reviewer="carol", seen_hash=pack["pack_hash"],
                       channel="cli", actor="cli:carol")
    with pytest.raises(RequestError, match="not the approved one"):
        jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")
    jobs.build_bundle(settings, rid, as_of=date(2026, 6, 20))
    assert jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")["status"] == "delivered"
    with state_engine(settings).begin() as conn, pytest.raises(RequestError, match="can no longer change"):
        review.apply_exemption(conn, rid, entity="casenote", record_id="C00000000-N000", code="SCH2-P19",
                               reason="too late", by="alice", at=AT)


def test_while_identity_is_awaited_nothing_is_approved_and_the_clock_stays_stopped(sqlite_settings) -> None:
    settings = sqlite_settings
    seed_store(settings, families=4, seed=1)
    rid = jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                             actor="test", identity_requested=True)["request_id"]
    jobs.discover_request(settings, rid)
    jobs.redact_request(settings, rid)
    pack = forms.prepare_review_for_airflow(settings, rid)
    assert pack["status"] == "awaiting_identity" and "identity or authority not yet confirmed" in pack["blocking"]
    response = {"chosen_options": ["Approve"], "responded_by_user": {"id": "dave", "name": "dave"}}
    result = forms.record_airflow_review(settings, pack, response, actor="airflow:subject_access")
    assert result["approved"] is False and result["status"] == "awaiting_identity"

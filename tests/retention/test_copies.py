"""Destroying a case destroys the copies the platform made of it: a delivered access-request bundle."""

from __future__ import annotations

from datetime import date, datetime, timezone

import sqlalchemy as sa

from governance.jobs import retention as retention_jobs
from governance.jobs import sar as sar_jobs
from governance.keyprovider import open_keys
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.sar import tables as sar_tables
from governance.sar.delivery import bundle_key_name, handover_dir
from governance.state import state_engine
from governance.stores.seeding import open_objects, seed_store
from tests.sar.conftest import make_settings

SUBJECT = "P000000000"
LONG_AFTER = date(2200, 1, 1)  # every clock of every closed case has run by then
SWEPT_AT = datetime(2200, 1, 1, 9, tzinfo=timezone.utc)  # a sweep on that day: an as-of after today is refused


def _delivered_request(settings) -> str:
    rid = sar_jobs.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 6, 1),
                                 actor="test")["request_id"]
    sar_jobs.discover_request(settings, rid)
    sar_jobs.redact_request(settings, rid)
    pack = sar_jobs.prepare_review(settings, rid)
    sar_jobs.record_review(settings, rid, decision="approved", reviewer="reviewer.one", seen_hash=pack["pack_hash"],
                           channel="cli", actor="cli:reviewer.one", withhold_undecided=True)  # flagged notes held
    sar_jobs.build_bundle(settings, rid, as_of=date(2026, 6, 20))
    sar_jobs.deliver_bundle(settings, rid, as_of=date(2026, 6, 20), actor="test")
    return rid


def test_a_destroyed_case_takes_its_delivered_bundle_and_key_with_it(tmp_path):
    settings = make_settings(tmp_path / "var")
    seed_store(settings, "default", families=12, seed=4)
    rid = _delivered_request(settings)
    with state_engine(settings).connect() as conn:
        drawn = set(conn.execute(sa.select(sar_tables.records.c.case_id).where(
            sar_tables.records.c.request_id == rid, sar_tables.records.c.case_id.is_not(None))).scalars())
        disclosure = conn.execute(sa.select(sar_tables.disclosures).where(
            sar_tables.disclosures.c.request_id == rid)).one()
    objects = open_objects(settings)
    assert drawn and objects.versions(disclosure.package_key)
    assert open_keys(settings).has(bundle_key_name(rid))  # the one wrapped key, in the state database

    proposed = retention_jobs.propose(settings, "default", as_of=LONG_AFTER, created_by="ig.alice", now=SWEPT_AT)
    retention_jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    retention_jobs.execute_all(settings, proposed["batch_id"], as_of=LONG_AFTER, actor="ig.bob", now=SWEPT_AT)
    verified = retention_jobs.verify(settings, proposed["batch_id"], actor="ig.bob")

    with state_engine(settings).connect() as conn:
        destroyed = set(conn.execute(sa.select(sa.text("case_id")).select_from(sa.text("retention_batch_items"))
                                     .where(sa.text("state = 'done'"))).scalars())
    assert drawn <= destroyed, "the subject's cases were due long after"
    assert objects.versions(disclosure.package_key) == []  # the bundle, every version
    assert objects.versions(disclosure.manifest_key)  # the manifest (hashes, no content) stays as evidence
    assert not open_keys(settings).has(bundle_key_name(rid))  # its key: crypto-shredded, for every host
    assert open_keys(settings).is_destroyed(bundle_key_name(rid))
    assert not objects.exists(f"sar/{rid}/handover.json")  # and the stored link
    assert not handover_dir(settings.home, rid).exists()
    assert verified["ok"] and verified["copies_checked"] == 1 and verified["copy_versions_remaining"] == 0
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        completes = [e for e in ledger.entries() if e.action == "retention.destroy.complete"]
    finally:
        ledger.close()
    assert sum(e.counts.get("copies.sar_bundle_versions", 0) for e in completes) == 1
    assert [r for e in completes for r in e.details.get("sar_requests", [])] == [rid]

    # A second execution of the finished batch chases nothing again and records nothing new.
    retention_jobs.execute_all(settings, proposed["batch_id"], as_of=LONG_AFTER, actor="ig.bob", now=SWEPT_AT)
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        assert len([e for e in ledger.entries() if e.action == "retention.destroy.complete"]) == len(completes)
    finally:
        ledger.close()


def test_a_sweep_cuts_destroyed_cases_out_of_a_live_studys_extract(tmp_path, db_url):
    """The wiring end to end: retention's own sweep calls the research capability per chunk."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from governance.research.extracts import build_extract, read_extract
    from governance.research.forget import FORGOTTEN_ACTION
    from governance.research.pseudonym import Pseudonymiser
    from governance.research.studykeys import load_study_key
    from tests.research.conftest import ACTOR, BUILD_ON, make_settings as research_settings, register, spec_dict

    settings = research_settings(tmp_path / "var", db_url)
    seed_store(settings, "default", families=60, seed=11)
    register(settings, spec_dict())
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)["status"] == "released"
    before = pa.Table.from_batches(list(read_extract(settings, "S1")))
    as_of = date(2026, 6, 30)

    proposed = retention_jobs.propose(settings, "default", as_of=as_of, created_by="ig.alice")
    retention_jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    executed = retention_jobs.execute_all(settings, proposed["batch_id"], as_of=as_of, actor="ig.bob")
    assert executed["cases"] > 0 and retention_jobs.verify(settings, proposed["batch_id"], actor="ig.bob")["ok"]

    with state_engine(settings).connect() as conn:
        destroyed = conn.execute(sa.select(sa.text("case_id")).select_from(sa.text("retention_batch_items"))
                                 .where(sa.text("state = 'done'"))).scalars().all()
        key = load_study_key(conn, settings, "S1")
    gone = pa.array([Pseudonymiser(key.pseudonym_key, "default").one("case", c) for c in destroyed])
    after = pa.Table.from_batches(list(read_extract(settings, "S1")))
    assert pc.sum(pc.is_in(before["case_pseudonym"], value_set=gone)).as_py() > 0  # the study held them
    assert pc.sum(pc.is_in(after["case_pseudonym"], value_set=gone)).as_py() == 0  # and holds them no more
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        entries = list(ledger.entries())
    finally:
        ledger.close()
    forgotten = [e for e in entries if e.action == FORGOTTEN_ACTION]
    # The chunk's last entry: "complete" with the ledger apart, "objects.destroyed" in one database.
    completes = [e for e in entries if e.action in ("retention.destroy.complete", "retention.objects.destroyed")]
    assert forgotten and sum(e.counts.get("copies.research_rows_removed", 0) for e in completes) == \
        before.num_rows - after.num_rows

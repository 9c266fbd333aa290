"""Executing batches: everything of a case goes, nothing else does, and it is all on the record."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from governance.errors import GovernanceError
from governance.jobs import retention as jobs
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.retention import tables
from governance.retention.holds import place_hold
from governance.state import state_engine
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore

AS_OF = date(2025, 6, 1)


@pytest.fixture(params=["one_database", "separate_ledger", "all_apart"])
def layout(request, world, tmp_path):
    """Store, state and ledger in one database; the ledger apart (state stays with the store); or all
    three apart (the embedded default keeps state with the ledger, apart from the store: the crash
    test's layout). The last two take the intent/complete path."""
    settings, builder = world
    if request.param == "separate_ledger":
        settings = dataclasses.replace(settings, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}")
    elif request.param == "all_apart":
        settings = _all_apart(settings, tmp_path)
    return settings, builder


def _all_apart(settings, tmp_path):
    return dataclasses.replace(settings, ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
                               state_url=f"sqlite:///{tmp_path / 'state.db'}")


def _write_documents(settings, builder, versions: int = 1) -> None:
    objects = open_objects(settings)
    for key in builder.documents.values():
        for n in range(versions):
            objects.put(key, f"fictional document, version {n}".encode())


def _count(settings, entity: str, **where) -> int:
    store = CaseStore.open(settings.store("default"))
    query = sa.select(sa.func.count()).select_from(store.table(entity))
    for field, value in where.items():
        query = query.where(store.raw(entity, field) == value)
    with store.engine.connect() as conn:
        n = conn.execute(query).scalar_one()
    store.engine.dispose()
    return n


def _actions(settings) -> list[str]:
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        assert ledger.verify().ok
        return [e.action for e in ledger.entries()]
    finally:
        ledger.close()


def _sweep(settings, as_of=AS_OF, now=None):
    proposed = jobs.propose(settings, "default", as_of=as_of, created_by="ig.alice", now=now)
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    executed = jobs.execute_all(settings, proposed["batch_id"], as_of=as_of, actor="ig.bob", now=now)
    return proposed, executed


def test_destruction_removes_every_row_and_object_and_nothing_else(layout):
    settings, b = layout
    fid = b.family()
    child = b.person(fid, "subject_child", dob=date(2010, 1, 1))
    parent = b.person(fid, "parent_carer", dob=date(1980, 1, 1))
    neighbour = b.person(fid, "member_of_public")
    old = b.case(fid, closed=date(2018, 1, 1), members=((child, "subject_child"), (parent, "parent_carer")))
    other_fid = b.family()
    kept_child = b.person(other_fid, "subject_child", dob=date(2012, 1, 1))
    kept = b.case(other_fid, closed=date(2023, 1, 1), members=((kept_child, "subject_child"), (parent, "parent_carer")))
    _write_documents(settings, b)

    proposed, executed = _sweep(settings)
    assert proposed["due"] == 1 and executed["cases"] == 1
    for entity in ("casenote", "document", "sharing_record", "case_member", "consent"):
        assert _count(settings, entity, case_id=old) == 0, entity
        assert _count(settings, entity, case_id=kept) > 0, entity
    assert _count(settings, "case", id=old) == 0 and _count(settings, "case", id=kept) == 1
    assert _count(settings, "person", id=child) == 0  # on no remaining case
    assert _count(settings, "person", id=neighbour) == 0  # the family has no case left
    assert _count(settings, "person", id=parent) == 1  # still on another family's case
    # The household stays while a member of it is kept (issue 12 item 10: no kept row points at a deleted one).
    assert _count(settings, "family", id=fid) == 1 and _count(settings, "family", id=other_fid) == 1
    assert _count(settings, "consent_opt_out") == 1
    objects = open_objects(settings)
    remaining = set(objects.list("stores/"))
    assert not [k for k in remaining if f"/{old}/" in k] and [k for k in remaining if f"/{kept}/" in k]
    verified = jobs.verify(settings, proposed["batch_id"], actor="ig.bob")
    assert verified["ok"] and verified["rows_remaining"] == 0
    actions = _actions(settings)
    destroy_actions = [a for a in actions if a.startswith("retention.destr") or a == "retention.objects.destroyed"]
    if settings.ledger_url == settings.stores[0].url:
        assert destroy_actions == ["retention.destroyed", "retention.objects.destroyed"]
    else:
        assert destroy_actions == ["retention.destroy.intent", "retention.destroy.complete"]


def test_certificate_lists_identifiers_and_no_content(layout):
    settings, b = layout
    case, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b)
    proposed, _ = _sweep(settings)
    jobs.verify(settings, proposed["batch_id"], actor="ig.bob")
    issued = jobs.certify(settings, proposed["batch_id"], actor="ig.bob")
    objects = open_objects(settings)
    cert_json = objects.get(f"retention/certificates/{proposed['batch_id']}.json")
    cert_pdf = objects.get(f"retention/certificates/{proposed['batch_id']}.pdf")
    cert = json.loads(cert_json)
    assert [r["case_id"] for r in cert["records"]] == [case]
    assert cert["authorised_by"] == "ig.bob" and cert["created_by"] == "ig.alice"
    assert cert["ledger"]["first_seq"] <= cert["ledger"]["last_seq"]
    assert cert_pdf.startswith(b"%PDF") and issued["destroyed"] == 1
    for content in (b"Testname", b"Testfamily", b"Fictional note text", b"Test household"):
        assert content not in cert_json and content not in cert_pdf


def test_a_hold_placed_after_approval_wins(layout):
    settings, b = layout
    held, _, _ = b.simple(closed=date(2018, 1, 1))
    free, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b)
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice")
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    place_hold(state_engine(settings), kind="litigation", source="High Court claim", reason="disclosure",
               scope={"case_ids": [held]}, placed_on=AS_OF, review_on=date(2026, 1, 1), placed_by="legal")
    jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="ig.bob")
    assert _count(settings, "case", id=held) == 1 and _count(settings, "casenote", case_id=held) == 2
    assert _count(settings, "case", id=free) == 0
    objects = open_objects(settings)
    assert [k for k in objects.list("stores/") if f"/{held}/" in k]  # the held case keeps its documents
    with state_engine(settings).connect() as conn:
        skipped = conn.execute(sa.select(tables.batch_items.c.skip_reason).where(tables.batch_items.c.case_id == held)).scalar_one()
    assert skipped.startswith("HOLD:")
    assert "retention.skipped" in _actions(settings)


def test_a_case_whose_document_is_under_object_lock_is_skipped_whole(layout):
    settings, b = layout
    locked, _, _ = b.simple(closed=date(2018, 1, 1))
    free, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b)
    objects = open_objects(settings)
    [locked_key] = [k for k in b.documents.values() if f"/{locked}/" in k]
    objects.put(locked_key, b"fictional document under a legal retention", retain_until=datetime.now(timezone.utc)
                + timedelta(hours=1))
    proposed, executed = _sweep(settings)
    assert proposed["due"] == 2  # plans do not read object locks; execution does, just before the deletes
    # Without the check the rows would go first and the chunk would stop at the locked document.
    assert executed["cases"] == 1
    assert _count(settings, "case", id=locked) == 1 and _count(settings, "casenote", case_id=locked) == 2
    assert _count(settings, "document", case_id=locked) == 1 and objects.exists(locked_key)
    assert _count(settings, "case", id=free) == 0
    with state_engine(settings).connect() as conn:
        skipped = conn.execute(sa.select(tables.batch_items.c.skip_reason).where(
            tables.batch_items.c.case_id == locked)).scalar_one()
        states = set(conn.execute(sa.select(tables.chunks.c.state)).scalars())
    assert skipped == "OBJECT_LOCKED" and states == {"complete"}
    assert jobs.verify(settings, proposed["batch_id"], actor="ig.bob")["ok"]


def test_two_person_rule(world):
    settings, b = world
    b.simple(closed=date(2018, 1, 1))
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice")
    with pytest.raises(GovernanceError, match="two-person rule"):
        jobs.approve(settings, proposed["batch_id"], approved_by="IG.Alice")
    with pytest.raises(GovernanceError, match="only an approved batch"):
        jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="ig.alice")
    assert jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")["status"] == "approved"


def test_anonymise_keeps_a_skeleton_without_identifiers(world):
    settings, b = world
    case, _, _ = b.simple("child_in_need", child_dob=date(1995, 4, 1), opened=date(2003, 2, 1), closed=date(2008, 1, 1))
    _sweep(settings)
    assert _count(settings, "case", id=case) == 0
    with state_engine(settings).connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(tables.skeletons))]
    assert len(rows) == 1
    skeleton = rows[0]
    assert (skeleton["case_type"], skeleton["year_opened"], skeleton["year_closed"], skeleton["age_band"], skeleton["outcome"]) == (
        "child_in_need", 2003, 2008, "5-9", "needs met")
    assert case not in json.dumps(skeleton, default=str)


def test_a_case_restored_from_backup_is_found_by_its_tombstone_and_destroyed_again(world):
    settings, b = world
    case, child, parent = b.simple(closed=date(2024, 1, 10))  # not due until 2029
    store = CaseStore.open(settings.store("default"))
    backup = {e: [dict(r._mapping) for r in store.engine.connect().execute(sa.select(store.table(e)))] for e in ("case",)}
    early = date(2030, 1, 1)  # a sweep on that day (an as-of after today is refused)
    _sweep(settings, early, now=datetime(2030, 1, 1, 9, tzinfo=timezone.utc))
    assert _count(settings, "case", id=case) == 0
    with store.engine.begin() as conn:  # the backup comes back
        conn.execute(store.table("case").insert(), backup["case"])
    plan = jobs.plan(settings, "default", as_of=date(2026, 1, 1))
    assert [d["case_id"] for d in plan["due"]] == [case] and plan["due"][0]["rule"] == "tombstone"
    _sweep(settings, date(2026, 1, 1))
    assert _count(settings, "case", id=case) == 0
    store.engine.dispose()


def test_every_version_is_deleted_on_a_versioned_bucket(world, moto_server):
    settings, b = world
    bucket = f"gov-ret-{uuid.uuid4().hex[:10]}"
    settings = dataclasses.replace(settings, objects_url=f"s3://{bucket}/objects", s3_endpoint_url=moto_server)
    objects = open_objects(settings)
    objects.ensure_bucket(versioned=True)
    case, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b, versions=3)
    key = next(iter(b.documents.values()))
    assert len(objects.versions(key)) == 3
    proposed, executed = _sweep(settings)
    assert executed["object_versions"] == 3 and objects.versions(key) == []
    assert jobs.verify(settings, proposed["batch_id"], actor="ig.bob")["object_versions_remaining"] == 0


def test_a_rerun_keeps_the_record_of_cases_gone_meanwhile_and_spares_one_held_since(world, tmp_path):
    """A killed run left an intent for two cases, its store transaction rolled back; before the rerun one
    case is removed by someone else and the other is put on hold. The rerun records the gone case from
    the intent, skips the held one, and the held case keeps its rows and documents."""
    from governance.retention.context import RetentionContext
    from governance.retention.destroy import delete_cases
    from governance.retention.execute import _record_intent

    settings, b = world
    settings = _all_apart(settings, tmp_path)
    gone, _, _ = b.simple(closed=date(2018, 1, 1))
    held, _, _ = b.simple(closed=date(2018, 1, 1))
    _write_documents(settings, b)
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice")
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    with RetentionContext.open(settings) as ctx:
        with ctx.store.engine.connect() as store_conn:
            killed = store_conn.begin()
            intent = delete_cases(ctx.store, store_conn, [gone, held])
            with ctx.state.begin() as conn:
                _record_intent(ctx, conn, proposed["batch_id"], 0, intent, {}, "ig.bob", "retention.destroy.intent")
            killed.rollback()  # the process died before the store committed
        with ctx.store.engine.begin() as conn:
            delete_cases(ctx.store, conn, [gone])
    place_hold(state_engine(settings), kind="litigation", source="High Court claim", reason="disclosure",
               scope={"case_ids": [held]}, placed_on=AS_OF, review_on=date(2026, 1, 1), placed_by="legal")

    jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="ig.bob")

    assert _count(settings, "case", id=held) == 1 and _count(settings, "casenote", case_id=held) == 2
    objects = open_objects(settings)
    assert [k for k in objects.list("stores/") if f"/{held}/" in k]
    assert not [k for k in objects.list("stores/") if f"/{gone}/" in k]
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        entries = [e for e in ledger.entries() if e.details.get("batch_id") == proposed["batch_id"]]
    finally:
        ledger.close()
    revised = [e for e in entries if e.action == "retention.destroy.intent_revised"]
    complete = [e for e in entries if e.action == "retention.destroy.complete"]
    assert [list(e.record_ids) for e in revised] == [[gone]]
    assert [list(e.record_ids) for e in complete] == [[gone]]
    assert jobs.verify(settings, proposed["batch_id"], actor="ig.bob")["ok"]

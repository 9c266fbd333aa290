"""The end of a study: destroy leaves no object version and no key; anonymise leaves an output that passes k."""

from __future__ import annotations

import json
import uuid
from datetime import date

import boto3
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa

from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.research import tables as t
from governance.research.discovery import studies_containing
from governance.research.ending import end_study, read_anonymised
from governance.research.errors import KeyDestroyed, StudyStateError
from governance.research.extracts import build_extract, export_extract, read_extract
from governance.research.kms import open_kms
from governance.research.schedule import due_studies, flag_overdue
from governance.errors import ObjectNotFound
from governance.research.studykeys import load_study_key
from governance.state import state_engine
from governance.storage import S3ObjectStore
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore
from tests.research.conftest import ACTOR, BUILD_ON, END_AFTER, register, spec_dict


def _state(settings, table: sa.Table, *where) -> list:
    with state_engine(settings).connect() as conn:
        return conn.execute(sa.select(table).where(*where)).all()


def _ledger_actions(settings) -> list[str]:
    with Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir)) as ledger:
        assert ledger.verify().ok
        return [e.action for e in ledger.entries()]


def test_destroy_removes_every_object_version_every_copy_and_the_key(world, moto_server, tmp_path) -> None:
    bucket = f"gov-research-{uuid.uuid4().hex[:12]}"
    url = f"s3://{bucket}/gov"
    S3ObjectStore.from_url(url, endpoint_url=moto_server).ensure_bucket(versioned=True)
    settings = world(families=150, objects_url=url, s3_endpoint_url=moto_server)
    register(settings, spec_dict(end_action="destroy", extract={"tables": [{"name": "by_type", "by": ["case_type"]}]}))
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)["status"] == "released"

    objects = open_objects(settings)
    parts = [r.object_key for r in _state(settings, t.objects)]
    assert len(parts) == 2  # one part, one aggregate table
    ciphertext = objects.get(parts[0])
    objects.put(parts[0], ciphertext)  # a second version, as a retried put would leave
    assert len(objects.versions(parts[0])) == 2
    export = export_extract(settings, "S1", tmp_path / "trusted-env", actor=ACTOR, as_of=BUILD_ON)
    copy = export["files"][0]
    with state_engine(settings).connect() as conn:
        wrapped_study_key = conn.execute(sa.select(t.keys.c.wrapped)).scalar_one()
        wrapped_data_key = conn.execute(sa.select(t.extracts.c.wrapped_data_key)).scalar_one()
        study_key = load_study_key(conn, settings, "S1")
    person = CaseStore.open(settings.store("default"))
    included = next(iter(_included_people(person, settings)))
    assert studies_containing(settings, "default", included) == ["S1"]

    result = end_study(settings, "S1", as_of=END_AFTER, actor=ACTOR)

    assert result["outcome"] == "destroyed" and result["versions_remaining"] == 0
    assert result["objects_deleted"] == 2 and result["versions_removed"] == 3 and result["local_copies_deleted"] == 1
    # No object version and no delete marker left, seen through raw boto3.
    raw = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    listing = raw.list_object_versions(Bucket=bucket, Prefix="gov/research/")
    assert not listing.get("Versions") and not listing.get("DeleteMarkers")
    assert all(objects.versions(key) == [] for key in parts)
    # No local copy, no key, and nothing reads any more.
    assert not (tmp_path / "trusted-env" / copy.rsplit("/", 1)[-1]).exists()
    assert _state(settings, t.keys) == [] and _state(settings, t.members) == []
    assert _state(settings, t.extracts)[0].wrapped_data_key is None
    with pytest.raises(KeyDestroyed):
        open_kms(settings).unwrap(wrapped_study_key)  # even a restored copy of the wrapped key
    with pytest.raises(Exception, match="no released extract"):
        list(read_extract(settings, "S1"))
    with pytest.raises(KeyDestroyed):
        with state_engine(settings).connect() as conn:
            load_study_key(conn, settings, "S1")
    with pytest.raises(ObjectNotFound):
        objects.get(parts[0])
    # A copy of the ciphertext and of the wrapped data key, kept by someone, needs the study
    # key, which no longer unwraps anywhere (shown above): the copy is noise.
    assert wrapped_data_key and ciphertext
    assert studies_containing(settings, "default", included) == []

    certificate = json.loads(objects.get(result["certificate_key"]))
    assert certificate["summary"]["key_id"] == study_key.key_id and certificate["key"]["destroyed"] is True
    text = json.dumps(certificate)
    assert included not in text and "given_name" not in text
    assert _ledger_actions(settings)[-3:] == ["research.extract_destroyed", "research.key_destroyed",
                                              "research.study_ended"]
    # Ending again changes nothing and returns the same certificate.
    again = end_study(settings, "S1", as_of=END_AFTER, actor=ACTOR)
    assert again["already_ended"] is True and again["key_id"] == study_key.key_id


def _included_people(store: CaseStore, settings) -> list[str]:
    with store.engine.connect() as conn:
        children = conn.execute(sa.select(store.raw("case_member", "person_id")).where(
            store.is_("case_member", "role", "subject_child"))).scalars().all()
        opted = {r.family_id for r in conn.execute(store.select("person", ["family_id", "research_opt_out"]))
                 if r.research_opt_out}
        families = dict(conn.execute(sa.select(store.raw("person", "id"), store.raw("person", "family_id"))).all())
    return sorted({c for c in children if families.get(c) not in opted})


def test_anonymise_leaves_an_aggregate_that_passes_k_and_no_pseudonyms(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict(extract={"k": 5, "fields": ["person_id", "date_of_birth", "case_type",
                                                                "casenote_count"]}))
    released = build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    assert released["status"] == "released"

    result = end_study(settings, "S1", as_of=END_AFTER, actor=ACTOR)

    assert result["outcome"] == "anonymised"
    output = read_anonymised(settings, "S1")
    assert output.num_rows > 0
    assert not [c for c in output.column_names if c.endswith("_pseudonym")]
    assert pc.min(output["persons"]).as_py() >= 5  # every published cell
    assert output.column_names == ["age_band", "case_type", "persons", "rows", "casenote_count_total"]
    classes = output.group_by(["age_band"]).aggregate([("persons", "sum"), ("case_type", "count_distinct")])
    assert pc.min(classes["persons_sum"]).as_py() >= 5  # and every quasi-identifier class
    assert pc.min(classes["case_type_count_distinct"]).as_py() >= 2  # l-diversity kept
    stats = json.loads(output.schema.metadata[b"governance.anonymisation"])
    assert stats["person_cells_published"] == pc.sum(output["persons"]).as_py()
    # The original is destroyed all the same.
    assert all(r.deleted_on is not None for r in _state(settings, t.objects, t.objects.c.kind == "part"))
    assert _state(settings, t.keys) == []
    assert "research.extract_anonymised" in _ledger_actions(settings)


def test_a_study_cannot_end_before_its_end_date_and_overdue_ones_are_flagged_once(world) -> None:
    settings = world(families=10)
    register(settings, spec_dict())
    with pytest.raises(StudyStateError, match="runs until 2026-12-31"):
        end_study(settings, "S1", as_of=date(2026, 12, 31), actor=ACTOR)
    assert due_studies(settings, as_of=date(2026, 12, 31)) == {"build": ["S1"], "end": []}
    assert due_studies(settings, as_of=END_AFTER) == {"build": [], "end": ["S1"]}

    assert flag_overdue(settings, as_of=END_AFTER, actor=ACTOR, grace_days=7) == []
    first = flag_overdue(settings, as_of=date(2027, 1, 20), actor=ACTOR, grace_days=7)
    second = flag_overdue(settings, as_of=date(2027, 1, 21), actor=ACTOR, grace_days=7)
    assert [(o["study_id"], o["days_overdue"], o["newly_flagged"]) for o in first] == [("S1", 20, True)]
    assert [(o["study_id"], o["newly_flagged"], o["overdue_since"]) for o in second] == [("S1", False, "2027-01-20")]
    assert _ledger_actions(settings).count("research.study_overdue") == 1

    # A study that never got an extract still ends: key-less, nothing to delete, certified.
    result = end_study(settings, "S1", as_of=date(2027, 1, 21), actor=ACTOR)
    assert result["outcome"] == "destroyed" and result["objects_deleted"] == 0 and result["key_id"] is None
    assert flag_overdue(settings, as_of=date(2027, 1, 22), actor=ACTOR) == []


def test_access_requests_find_only_studies_holding_the_person(world) -> None:
    settings = world(families=150)
    register(settings, spec_dict("S1"))
    register(settings, spec_dict("S2", extract={"case_types": ["adoption"], "sensitive": [], "l": 1}))
    build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)
    store = CaseStore.open(settings.store("default"))
    included = _included_people(store, settings)
    with store.engine.connect() as conn:
        opted = conn.execute(sa.select(store.raw("person", "id")).where(
            store.is_("person", "research_opt_out", True))).scalars().first()
    assert studies_containing(settings, "default", included[0]) == ["S1"]
    assert studies_containing(settings, "default", opted) == []
    assert studies_containing(settings, "default", "P-NOT-A-PERSON") == []
    assert studies_containing(settings, "homestart", included[0]) == []


def test_an_interrupted_end_resumes_and_certifies_the_true_totals(world, monkeypatch) -> None:
    import governance.research.ending as ending

    settings = world(families=150)
    register(settings, spec_dict(extract={"k": 5, "fields": ["person_id", "date_of_birth", "case_type"]}))
    assert build_extract(settings, "S1", as_of=BUILD_ON, actor=ACTOR)["status"] == "released"

    def killed(*_a, **_k):
        raise RuntimeError("killed before the key was destroyed")

    monkeypatch.setattr(ending, "destroy_study_key", killed)
    with pytest.raises(RuntimeError):
        end_study(settings, "S1", as_of=END_AFTER, actor=ACTOR)
    monkeypatch.undo()
    assert _state(settings, t.studies)[0].status == "approved" and len(_state(settings, t.keys)) == 1
    assert "research.study_ended" not in _ledger_actions(settings)  # rolled back with the state

    result = end_study(settings, "S1", as_of=END_AFTER, actor=ACTOR)
    assert result["outcome"] == "anonymised" and result["objects_deleted"] == 1 and result["versions_removed"] == 1
    assert len(_state(settings, t.objects, t.objects.c.kind == "anonymised")) == 1  # made once, reused
    assert read_anonymised(settings, "S1").num_rows > 0 and _state(settings, t.keys) == []

"""Data Docs: a static site in object storage with counts only.

The failing values of the generator's defects (future dates, the 1900-01-01
placeholder birth date, the unknown agency code) and the names of the people
involved are all in the store; none may appear in any published file.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from governance.quality import datadocs
from governance.quality.options import QualityOptions
from governance.quality.runner import validate
from governance.quality.sanitize import COUNT_KEYS
from governance.storage import open_object_store
from tests.quality.conftest import AS_OF, AT

pytestmark = pytest.mark.slow


def _failing_values(store, problems: dict) -> set[str]:
    """The stored values that made the generator's records fail, and the names around them."""
    values = {"space_agency", "1900-01-01"}
    with store.engine.connect() as conn:
        for note_id in problems["future_casenote_date"]:
            values.add(str(conn.execute(sa.select(store.raw("casenote", "written_on")).where(
                store.raw("casenote", "id") == note_id)).scalar_one()))
        for case_id in problems["future_closure_date"] + problems["closure_before_opening"]:
            values.add(str(conn.execute(sa.select(store.raw("case", "closed_on")).where(
                store.raw("case", "id") == case_id)).scalar_one()))
        for person_id in problems["implausible_birth_date"]:
            row = conn.execute(sa.select(store.raw("person", "given_name"), store.raw("person", "family_name")).where(
                store.raw("person", "id") == person_id)).one()
            values.update({f"{row[0]} {row[1]}"})
        for note_id in problems["orphan_casenote"]:
            body = conn.execute(sa.select(store.raw("casenote", "body")).where(store.raw("casenote", "id") == note_id)).scalar_one()
            values.add(body[:40])
    return values


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_published_site_holds_counts_not_values(make_store_at, sqlite_url: str, tmp_path, mapping: str) -> None:
    store, manifest = make_store_at(sqlite_url, mapping, families=200, seed=11)
    objects = open_object_store((tmp_path / "published").as_uri())
    objects.put(datadocs.docs_prefix("default") + "validations/old-run.html", b"<html>an older site</html>")
    validation = validate(store, QualityOptions(as_of=AS_OF), run_id="run-1", run_time=AT)

    published = datadocs.publish(validation, objects, extra={"passed": True})

    keys = list(objects.list("quality/default/"))
    assert datadocs.index_key("default") in keys and datadocs.summary_key("default") in keys
    assert published["data_docs_files"] == len([k for k in keys if k.startswith(datadocs.docs_prefix("default"))])
    assert published["data_docs_removed"] == 1 and not objects.exists(datadocs.docs_prefix("default") + "validations/old-run.html")
    assert published["data_docs_uri"].startswith("file://") and published["data_docs_uri"].endswith("/data-docs/index.html")
    assert any("/validations/" in k for k in keys) and any("/expectations/" in k for k in keys)
    text = "\n".join(objects.get(k).decode("utf-8", errors="replace") for k in keys)
    leaked = [v for v in _failing_values(store, manifest.problems) if v in text]
    assert leaked == []
    summary = json.loads(objects.get(datadocs.summary_key("default")))
    assert summary["counts"]["rules_failed"] == 13 and summary["passed"] is True
    assert set(summary["skipped"]) == {o.rule for o in validation.report.outcomes if o.status == "skipped"}


def test_results_kept_for_rendering_are_counts_only(make_store_at, sqlite_url: str) -> None:
    store, _ = make_store_at(sqlite_url, families=200, seed=11)
    validation = validate(store, QualityOptions(as_of=AS_OF), run_id="run-1", run_time=AT)

    store_ = validation.context.validation_results_store
    keys = store_.list_keys()
    assert len(keys) == len(validation.suites)
    for key in keys:
        suite_result = store_.get(key)
        assert set(suite_result.meta) <= {"great_expectations_version", "run_id", "validation_time", "validation_id",
                                          "checkpoint_id", "active_batch_definition", "batch_spec", "batch_markers"}
        for evr in suite_result.results:
            assert set(evr.result) <= COUNT_KEYS, evr.result
            assert all(isinstance(v, (int, float)) for v in evr.result.values())
            assert not evr.exception_info["raised_exception"]


def test_publishes_to_a_versioned_s3_bucket(make_store_at, sqlite_url: str, moto_server: str) -> None:
    import uuid

    import boto3

    from governance.storage import S3ObjectStore

    client = boto3.client("s3", endpoint_url=moto_server, region_name="eu-west-2")
    objects = S3ObjectStore(f"gov-quality-{uuid.uuid4().hex[:12]}", "governance", client=client)
    objects.ensure_bucket(versioned=True)
    store, _ = make_store_at(sqlite_url, families=100, seed=3)
    validation = validate(store, QualityOptions(as_of=AS_OF), run_id="run-1", run_time=AT)

    first = datadocs.publish(validation, objects)
    objects.put(datadocs.docs_prefix("default") + "validations/stale.html", b"old")
    second = datadocs.publish(validation, objects)

    assert first["data_docs_uri"] == f"s3://{objects.bucket}/governance/quality/default/data-docs/index.html"
    assert objects.exists(datadocs.index_key("default"))
    # A stale page is gone with every version, not hidden behind a delete marker.
    assert second["data_docs_removed"] == 1 and objects.versions(datadocs.docs_prefix("default") + "validations/stale.html") == []

"""The end of a study: anonymise or destroy, then prove it with a certificate and the ledger.

:func:`end_study`, for a study whose end date has passed:

1. **anonymise** only: aggregates the released extract (:mod:`governance.research.anonymise`)
   and stores the result encrypted under a fresh key wrapped by the key manager
   (not by the study key, which is about to go);
2. deletes every version of every object of every extract the study ever had,
   and every local copy the platform made (exports), and checks none remains;
3. writes the certificate (JSON, no record content) to object storage;
4. in one transaction with the ledger entries: crypto-shreds the study key,
   deletes the access-request index, marks extracts destroyed and the study ended.

Each step is idempotent and records its progress, so a retried task finishes
the job and still certifies the true totals. An ended study returns its
certificate again.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.anonymise import Anonymiser
from governance.research.errors import ExtractUnreadable, ResearchError, StudyStateError
from governance.research.extracts import read_extract, released_extract
from governance.research.kms import open_kms
from governance.research.parts import parquet_bytes, seal, unseal
from governance.research.recording import RULE, recorded
from governance.research.storekeeping import ObjectLog, remaining_versions, remove_extract_objects, remove_local_copies
from governance.research.studies import Study, get_study
from governance.research.studykeys import destroy_study_key, new_data_key
from governance.state import state_engine
from governance.stores.seeding import open_objects

__all__ = ["end_study", "read_anonymised", "certificate_key", "ENDED_ACTION", "ANONYMISED_ACTION",
           "DESTROYED_ACTION", "KEY_DESTROYED_ACTION"]

ENDED_ACTION = "research.study_ended"
ANONYMISED_ACTION = "research.extract_anonymised"
DESTROYED_ACTION = "research.extract_destroyed"
KEY_DESTROYED_ACTION = "research.key_destroyed"
_PROMISE = "Information shared for research purposes will be anonymised then destroyed on completion of the study."


def certificate_key(study_id: str) -> str:
    return f"certificates/research/{study_id}.json"


def _anonymised_row(conn: sa.Connection, study_id: str) -> Any | None:
    """The stored anonymised output (a row whose put completed; the newest if a retry made two)."""
    return conn.execute(sa.select(t.objects).where(
        t.objects.c.study_id == study_id, t.objects.c.kind == "anonymised", t.objects.c.deleted_on.is_(None),
        t.objects.c.sha256.is_not(None)).order_by(t.objects.c.id.desc())).first()


def _anonymise(settings: Settings, study: Study, extract: Any, as_of: date) -> dict[str, Any]:
    """Store the anonymised aggregate (once); return its key, hash and statistics."""
    with state_engine(settings).connect() as conn:
        row = _anonymised_row(conn, study.study_id)
    if row is not None:
        stored = pq.read_schema(pa.BufferReader(_open_anonymised(settings, row))).metadata or {}
        return {**json.loads(stored.get(b"governance.anonymisation", b"{}")), "object_key": row.object_key,
                "sha256": row.sha256}
    output = Anonymiser(study.spec.extract).run(read_extract(settings, study.study_id))
    stats = {**output.stats, "from_extract": extract.extract_id}
    table = output.table.replace_schema_metadata({"governance.anonymisation": json.dumps(stats, sort_keys=True)})
    manager = open_kms(settings)
    data_key = new_data_key()
    wrapped = manager.wrap(data_key)
    object_key = f"research/{study.study_id}/anonymised/{extract.extract_id}.parquet.enc"
    record = ObjectLog(state_engine(settings), study.study_id, extract.extract_id, as_of).recorder("anonymised", wrapped)
    record(object_key, None)
    info = open_objects(settings).put(object_key, seal(data_key, parquet_bytes(table), object_key))
    record(object_key, info)
    return {**stats, "object_key": object_key, "sha256": info.sha256, "kms_key_id": manager.key_id(wrapped)}


def _open_anonymised(settings: Settings, row: Any) -> bytes:
    data_key = open_kms(settings).unwrap(row.wrapped_key)
    return unseal(data_key, open_objects(settings).get(row.object_key), row.object_key)


def read_anonymised(settings: Settings, study_id: str) -> pa.Table:
    """The anonymised output of an ended (or ending) study."""
    with state_engine(settings).connect() as conn:
        row = _anonymised_row(conn, study_id)
    if row is None:
        raise ExtractUnreadable(f"study {study_id} has no anonymised output")
    return pq.read_table(pa.BufferReader(_open_anonymised(settings, row)))


def end_study(settings: Settings, study_id: str, *, as_of: date, actor: str) -> dict[str, Any]:
    """Carry out the study's end action as of ``as_of`` (after its end date); return the certificate summary."""
    engine = state_engine(settings)
    with engine.connect() as conn:
        study = get_study(conn, study_id)
        extract = released_extract(conn, study_id)
        if study.status == "ended":
            cert = conn.execute(sa.select(t.certificates).where(t.certificates.c.study_id == study_id)).one()
            return {**json.loads(cert.certificate_json)["summary"], "already_ended": True}
    if as_of <= study.spec.end_on:
        raise StudyStateError(f"study {study_id} runs until {study.spec.end_on}: it cannot end on {as_of}")
    anonymised = None
    if study.spec.end_action == "anonymise" and extract is not None:
        anonymised = _anonymise(settings, study, extract, as_of)
    with engine.connect() as conn:
        extract_rows = conn.execute(sa.select(t.extracts).where(t.extracts.c.study_id == study_id)
                                    .order_by(t.extracts.c.extract_id)).all()
    removed = {"objects_deleted": 0, "versions_removed": 0}
    for row in extract_rows:
        for name, value in remove_extract_objects(settings, study_id, row.extract_id, as_of=as_of).items():
            removed[name] += value
    copies = remove_local_copies(settings, study_id, as_of=as_of)
    left = remaining_versions(settings, study_id)
    if left:
        raise ResearchError(f"study {study_id}: {sum(left.values())} object version(s) remain after deletion; "
                            "not certifying")
    certificate = _certificate(settings, study, extract_rows, anonymised, copies, as_of=as_of, actor=actor)
    body = json.dumps(certificate, indent=2, sort_keys=True).encode("utf-8")
    objects = open_objects(settings)
    info = objects.put(certificate_key(study_id), body)
    summary = certificate["summary"]
    with recorded(settings) as rec:
        key_id = destroy_study_key(rec.conn, settings, study_id, as_of)
        members = rec.conn.execute(t.members.delete().where(t.members.c.study_id == study_id)).rowcount
        rec.conn.execute(t.extracts.update().where(t.extracts.c.study_id == study_id).values(
            wrapped_data_key=None, destroyed_on=as_of,
            status=sa.case((t.extracts.c.status == "released", "destroyed"), else_=t.extracts.c.status)))
        rec.conn.execute(t.studies.update().where(t.studies.c.study_id == study_id).values(
            status="ended", ended_on=as_of, end_outcome=summary["outcome"]))
        rec.conn.execute(t.certificates.insert().values(
            study_id=study_id, object_key=info.key, sha256=info.sha256, outcome=summary["outcome"], issued_on=as_of,
            certificate_json=body.decode("utf-8")))
        ids = [study_id, *(r.extract_id for r in extract_rows)]
        base = {"actor": actor, "rule": RULE, "store": study.spec.extract.store}
        if anonymised:
            rec.append(**base, action=ANONYMISED_ACTION, record_ids=ids,
                       counts={"cells": anonymised["cells"], "person_cells_published": anonymised["person_cells_published"],
                               "person_cells_suppressed": anonymised["person_cells_suppressed"]},
                       details={"study_id": study_id, "object_key": anonymised["object_key"],
                                "sha256": anonymised["sha256"], "level": anonymised["level"], "k": anonymised["k"]})
        rec.append(**base, action=DESTROYED_ACTION, record_ids=ids, counts={**removed, **copies, "index_rows": members},
                   details={"study_id": study_id, "objects_uri": objects.uri, "versions_remaining": 0})
        if key_id:
            rec.append(**base, action=KEY_DESTROYED_ACTION, record_ids=[study_id],
                       details={"study_id": study_id, "key_id": key_id, "method": "cryptographic-erase"})
        rec.append(**base, action=ENDED_ACTION, record_ids=[study_id], reason=_PROMISE,
                   details={"study_id": study_id, "outcome": summary["outcome"], "certificate_key": info.key,
                            "certificate_sha256": info.sha256, "as_of": as_of.isoformat()})
    return {**summary, "certificate_sha256": info.sha256, "already_ended": False}


def _certificate(settings: Settings, study: Study, extract_rows: list, anonymised: dict[str, Any] | None,
                 copies: dict[str, int], *, as_of: date, actor: str) -> dict[str, Any]:
    """The certificate: identifiers, dates, methods, counts and hashes of ciphertext; no record content."""
    with state_engine(settings).connect() as conn:
        objects = conn.execute(sa.select(t.objects).where(t.objects.c.study_id == study.study_id,
                                                          t.objects.c.kind.in_(("part", "table")))
                               .order_by(t.objects.c.id)).all()
        kms = conn.execute(sa.select(t.keys.c.kms).where(t.keys.c.study_id == study.study_id)).scalar()
    outcome = "anonymised" if anonymised else "destroyed"
    summary = {
        "study_id": study.study_id, "outcome": outcome, "end_action": study.spec.end_action,
        "performed_on": as_of.isoformat(), "objects_deleted": len(objects),
        "versions_removed": sum(o.versions_removed or 0 for o in objects), "versions_remaining": 0,
        "local_copies_deleted": copies["copies_deleted"], "key_id": study.key_id,
        "certificate_key": certificate_key(study.study_id),
    }
    return {
        "certificate": "research-study-end", "version": 1, "summary": summary,
        "study": {"study_id": study.study_id, "title": study.spec.title, "recipient": study.spec.recipient,
                  "approver": study.approver, "approved_on": study.approved_on and study.approved_on.isoformat(),
                  "start_on": study.spec.start_on.isoformat(), "end_on": study.spec.end_on.isoformat(),
                  "intruder_assessment": study.spec.intruder_assessment},
        "rule": {"id": RULE, "source": "seed 001 (Camden early-help leaflet)", "text": _PROMISE},
        "authorised_by": actor, "performed_on": as_of.isoformat(),
        "method": {
            "objects": "every version and delete marker removed from object storage (NIST SP 800-88 purge)",
            "key": "cryptographic erase: study key destroyed in the key manager and its wrapped copy deleted",
            "local_copies": "every recorded local file deleted",
        },
        "key": {"key_id": study.key_id, "key_manager": kms or "local", "destroyed": study.key_id is not None},
        "extracts": [{"extract_id": r.extract_id, "status_before_end": r.status, "built_on": r.built_on.isoformat(),
                      "rows": r.rows or 0, "persons": r.persons or 0} for r in extract_rows],
        "objects": [{"object_key": o.object_key, "kind": o.kind, "sha256_of_ciphertext": o.sha256,
                     "versions_removed": o.versions_removed or 0, "deleted_on": o.deleted_on and o.deleted_on.isoformat()}
                    for o in objects],
        "objects_uri": open_objects(settings).uri,
        "local_copies": copies,
        "anonymised_output": anonymised,
    }

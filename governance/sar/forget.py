"""When the retention sweep destroys cases: the access-request bundles that hold their records go too.

A delivered bundle (``sar/<request>/bundle.enc``) is a copy the platform made
of case records. Once a case it drew on is destroyed, the stored bundle (every
version), the request's bundle key (crypto-shredding any copy left elsewhere,
NIST SP 800-88 "purge" by cryptographic erase) and any handover files still on
disk are removed. Kept: the manifest (file names and hashes, no content), the
request register, the record list (ids and text hashes) and the disclosure
row, which are the evidence that the disclosure happened.

A request still pending never reaches here: its subject's cases are held by
eligibility (``SAR_PENDING``). Idempotent: a rerun finds nothing left to remove
and records nothing new.
"""

from __future__ import annotations

import shutil
from typing import Any

import sqlalchemy as sa

from governance.db import one_of
from governance.sar import tables as t
from governance.sar.naming import bundle_key_name, handover_dir

__all__ = ["forget_cases", "requests_drawing_on"]


def requests_drawing_on(conn: sa.Connection, store: str, case_ids: list[str]) -> list[tuple[str, str]]:
    """(request id, stored bundle key) of disclosed requests whose records include any of the cases."""
    drew = sa.select(t.records.c.request_id).distinct().where(one_of(t.records.c.case_id, case_ids, conn.dialect.name))
    return [(r, k) for r, k in conn.execute(
        sa.select(t.disclosures.c.request_id, t.disclosures.c.package_key)
        .where(t.disclosures.c.store == store, t.disclosures.c.request_id.in_(drew))
        .order_by(t.disclosures.c.request_id)).all()]


def forget_cases(*, state: sa.Engine, objects: Any, keys: Any, home, store: str, case_ids: list[str]) -> dict[str, Any]:
    """Remove the stored bundles of requests that drew on these (destroyed) cases; counts and request ids only."""
    if not case_ids:
        return {"requests": [], "bundle_versions_deleted": 0, "keys_destroyed": 0}
    with state.connect() as conn:
        found = requests_drawing_on(conn, store, case_ids)
    versions = keys_destroyed = 0
    touched = []
    for request_id, package_key in found:
        removed = objects.delete_many([package_key])
        objects.delete_many([f"sar/{request_id}/handover.json"])  # the stored link (no key in it)
        destroyed = keys.destroy_data_key(bundle_key_name(request_id))
        folder = handover_dir(home, request_id)
        if folder.exists():
            shutil.rmtree(folder)
        if removed or destroyed:
            touched.append(request_id)
        versions += removed
        keys_destroyed += int(destroyed)
    return {"requests": touched, "bundle_versions_deleted": versions, "keys_destroyed": keys_destroyed}

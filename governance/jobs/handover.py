"""``governance sar handover``: the key and link of a delivered request, on the machine that asks.

Delivery keeps the bundle in object storage, its key wrapped in the state
database and the link with its expiry beside the bundle; nothing stays on the
worker that delivered. This job, run by records management wherever they sit,
reads them back, checks the key is the one that sealed the bundle (the
manifest's key id: a mismatch is an error and nothing is written), renews the
link if it expires within ``RENEW_WITHIN`` and writes the two 0600 files to be
sent by different channels. Returns paths, ids and the expiry only.

Handing over is recorded in the ledger (:data:`HANDED_OVER_ACTION`, identifiers
and counts only) once the files are written, once per request, key and link
(:meth:`~governance.unit.Work.append_once`): a retry, or the same key and link
written again, finds that entry; a renewed link is a new hand-over.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.jobs.sar import RULE
from governance.sar import delivery
from governance.sar.register import RequestError, get_request
from governance.sar.tables import disclosures
from governance.unit import Unit

__all__ = ["hand_over", "handover_material", "RENEW_WITHIN", "HANDED_OVER_ACTION"]

RENEW_WITHIN = timedelta(days=1)  # a link about to lapse is useless to a family reading it tomorrow
#: Ledger action for "the key and link of a disclosed bundle were handed over".
HANDED_OVER_ACTION = "sar.handed_over"


def hand_over(settings: Settings, request_id: str, *, at: datetime, actor: str, out: Path | None = None,
              link_seconds: int = delivery.DEFAULT_LINK_SECONDS) -> dict[str, Any]:
    material = handover_material(settings, request_id, at=at, link_seconds=link_seconds)
    package_key, store = material.pop("package_key"), material.pop("store")
    files = delivery.write_handover(settings.home, request_id, key=material.pop("key"), url=material.pop("url"),
                                    expires_at=material.pop("expires"), folder=out)
    seq = _record_handover(settings, material, package_key=package_key, store=store, actor=actor)
    return {**material, **files, "ledger_seq": seq}


def _record_handover(settings: Settings, material: dict[str, Any], *, package_key: str, store: str,
                     actor: str) -> int:
    """The hand-over's ledger entry (once per request, key and link expiry); its seq."""
    request_id = material["request_id"]
    key = f"handover:{request_id}:{material['key_id']}:{material['url_expires_at'] or 'no-expiry'}"
    with Unit.open(settings) as unit:
        with unit.transaction() as work:
            work.append_once(key=key, actor=actor, action=HANDED_OVER_ACTION, rule=RULE, store=store,
                             reason="key and link of the disclosed bundle handed over, to send by separate channels",
                             record_ids=[request_id], counts={"files": 2},
                             details={"key_id": material["key_id"], "package_key": package_key,
                                      "link_renewed": material["link_renewed"],
                                      "url_expires_at": material["url_expires_at"]})
        unit.ledger.checkpoint()
    return work.seqs[key]


def handover_material(settings: Settings, request_id: str, *, at: datetime,
                      link_seconds: int = delivery.DEFAULT_LINK_SECONDS) -> dict[str, Any]:
    """What :func:`hand_over` writes, returned instead (``key`` bytes, ``url``, ``expires``): for the console,
    which hands them to the user's browser and writes no file on the API server."""
    with Unit.open(settings) as unit:
        with unit.state.connect() as conn:
            row = conn.execute(sa.select(disclosures.c.package_key, disclosures.c.manifest_key, disclosures.c.key_id,
                                         disclosures.c.store)
                               .where(disclosures.c.request_id == request_id)).first()
            if row is None:
                get_request(conn, request_id)  # an unknown id is named as such, not as undelivered
        if row is None:
            raise RequestError(f"request {request_id!r} has not been delivered: nothing to hand over")
        objects = unit.objects
        manifest = json.loads(objects.get(row.manifest_key))
        if manifest.get("package", {}).get("key_id") != row.key_id:
            raise RequestError(f"request {request_id}: the stored manifest is not the one disclosed (key id differs)")
        key = delivery.handed_over_key(unit.keys, request_id, manifest)
        link = delivery.stored_link(objects, request_id) or {}
        expires = datetime.fromisoformat(link["expires_at"]) if link.get("expires_at") else None
        renewed = not link.get("url") or (expires is not None and expires - at < RENEW_WITHIN)
        if renewed:
            url, expires = delivery.link_for(objects, row.package_key, at, link_seconds)
            delivery.store_link(objects, request_id, url=url, expires_at=expires, package_key_id=row.key_id)
            with unit.state.begin() as conn:
                conn.execute(disclosures.update().where(disclosures.c.request_id == request_id)
                             .values(url_expires_at=expires))
        else:
            url = link["url"]
    return {"request_id": request_id, "key_id": row.key_id, "link_renewed": renewed,
            "url_expires_at": expires.isoformat() if expires else None, "package_uri": f"{objects.uri}/{row.package_key}",
            "key": key, "url": url, "expires": expires, "package_key": row.package_key, "store": row.store}

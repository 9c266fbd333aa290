"""Retention page: forecast, batches and decisions, certificates, holds, tombstone matches.

Holds are placed and lifted through :mod:`governance.jobs.holds`, the path the
CLI's ``governance retention hold add/lift`` takes: the same validation and the
same ``retention.hold.placed`` / ``retention.hold.lifted`` ledger entries, with
the console user as actor, because a hold
decides what is not destroyed and an auditor must be able to see who placed it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa

from governance.config import Settings
from governance.errors import ConfigError
from governance_airflow.console import context

__all__ = ["forecast", "batches", "certificate", "holds", "place_hold", "lift_hold", "tombstone_matches",
           "warm", "FORECAST_SECONDS", "HOLD_KINDS", "HOLD_FLAGS", "CASE_TYPES"]

from governance.retention.holds import HOLD_FLAGS, HOLD_KINDS  # noqa: E402 - re-exported for the form
from governance.stores.model import CASE_TYPES  # noqa: E402

FORECAST_SECONDS = 600.0  # also recomputed whenever the ledger moves (a hold, a batch, a quarantine change)
_BATCH_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def _months(as_of: date, n: int) -> list[str]:
    out, year, month = [], as_of.year, as_of.month
    for _ in range(n):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def forecast(settings: Settings, store: str, as_of: date) -> dict[str, Any]:
    """Cases falling due per record class in each of the next 24 months (the as-of month first).

    Seam: :meth:`Plan.forecast` counts per month only; per class per month is
    counted here from :func:`decide_every_case`, the plan's own decisions. It
    reads every case (seconds on a large store), so it is kept per ledger head
    and recomputed in the background when the ledger moves (``current`` False
    meanwhile: the page says so).
    """
    value, current = context.latest(("forecast", store, as_of), context.ledger_head(settings), FORECAST_SECONDS,
                                    lambda: _forecast_now(settings, store, as_of))
    return {**value, "current": current}


def _forecast_now(settings: Settings, store: str, as_of: date) -> dict[str, Any]:
    from governance.keyprovider import open_keys
    from governance.retention.plan import FORECAST_MONTHS, decide_every_case
    from governance.retention.schedule import load_schedule
    from governance.retention.tombstones import tombstone_key

    months = _months(as_of, FORECAST_MONTHS)
    window = set(months)
    per: Counter = Counter()
    overdue: Counter = Counter()
    for d in decide_every_case(context.case_store(settings, store), context.state(settings), load_schedule(), as_of,
                               tombstone_key=tombstone_key(open_keys(settings))):
        if d.due_on is None or d.status not in ("due", "not_due"):
            continue
        month = f"{d.due_on.year:04d}-{d.due_on.month:02d}"
        if month in window:
            per[(d.case_type, month)] += 1
        elif d.due_on < as_of and d.status == "due":
            overdue[d.case_type] += 1
    classes = sorted({c for c, _ in per} | set(overdue))
    return {"store": store, "as_of": as_of.isoformat(), "months": months, "classes": classes,
            "counts": {c: [per[(c, m)] for m in months] for c in classes},
            "totals": [sum(per[(c, m)] for c in classes) for m in months],
            "already_due": dict(overdue)}


def warm(settings: Settings, as_of: date) -> None:
    """Start every store's forecast and tombstone scan in the background (the Overview calls it)."""
    head = context.ledger_head(settings)
    for store in settings.stores:
        context.refresh(("forecast", store.name, as_of), head, FORECAST_SECONDS,
                        lambda s=store.name: _forecast_now(settings, s, as_of))
        context.refresh(("tombstones", store.name), head, FORECAST_SECONDS, lambda s=store.name: _tombstones_now(settings, s))


def batches(settings: Settings, *, limit: int = 50) -> list[dict[str, Any]]:
    """Newest first: status, who proposed and decided, counts per action, certificate present."""
    from governance.retention import tables

    b = tables.batches
    with context.state(settings).connect() as conn:
        rows = conn.execute(sa.select(b).order_by(b.c.created_at.desc()).limit(limit)).mappings().all()
    out = []
    for r in rows:
        counts = json.loads(r["counts"] or "{}")
        out.append({"batch_id": r["batch_id"], "store": r["store"], "as_of": r["as_of"].isoformat(),
                    "status": r["status"], "created_by": r["created_by"], "approved_by": r["approved_by"],
                    "decided_at": r["decided_at"].strftime("%Y-%m-%d %H:%M") if r["decided_at"] else None,
                    "decision_note": r["decision_note"], "by_action": counts.get("by_action", {}),
                    "by_class": counts.get("by_class", {}), "cases": sum(counts.get("by_action", {}).values()),
                    "certificate": bool(r["certificate_uri"])})
    return out


def certificate(settings: Settings, batch_id: str, kind: str) -> bytes:
    """The issued certificate as stored (PDF or JSON), byte for byte."""
    if kind not in ("pdf", "json") or not _BATCH_ID.match(batch_id):
        raise ConfigError(f"no certificate {batch_id[:64]!r}.{kind[:8]}")
    from governance.errors import StorageError

    try:
        return context.objects(settings).get(f"retention/certificates/{batch_id}.{kind}")
    except (StorageError, FileNotFoundError, KeyError):
        raise ConfigError(f"batch {batch_id} has no {kind.upper()} certificate") from None


def holds(settings: Settings, store: str, as_of: date) -> list[dict[str, Any]]:
    from governance.retention.holds import active_holds

    out = []
    for h in active_holds(context.state(settings), store, as_of):
        item = h.to_json()
        item["review_overdue"] = h.review_on < as_of
        item["scope_text"] = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else 'every case'}"
                                       for k, v in sorted(h.scope.items()))
        out.append(item)
    return out


def _ids(text: str | None) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text or "") if part]


def place_hold(settings: Settings, *, actor: str, placed_by: str, kind: str, source: str, reason: str,
               placed_on: date, review_on: date, store: str | None, case_ids: str = "", family_ids: str = "",
               person_ids: str = "", case_types: list[str] | None = None, flags: list[str] | None = None,
               every_case: bool = False, pre_emptive: bool = False) -> dict[str, Any]:
    """Place a hold through the CLI's own path (:mod:`governance.jobs.holds`): same validation, same entry."""
    from governance.jobs.holds import place

    scope = {"all": every_case, "case_ids": _ids(case_ids), "family_ids": _ids(family_ids),
             "person_ids": _ids(person_ids), "case_types": case_types or [], "flags": flags or []}
    hold, seq = place(settings, actor=actor, kind=kind, source=source, reason=reason, scope=scope,
                      placed_on=placed_on, review_on=review_on, placed_by=placed_by, store=store or None,
                      pre_emptive=pre_emptive)
    return {**hold.to_json(), "ledger_seq": seq}


def lift_hold(settings: Settings, *, actor: str, hold_id: str, lifted_on: date) -> dict[str, Any]:
    from governance.jobs.holds import lift

    seq = lift(settings, actor=actor, hold_id=hold_id, lifted_on=lifted_on)
    return {"hold_id": hold_id, "lifted_on": lifted_on.isoformat(), "ledger_seq": seq}


def tombstone_matches(settings: Settings, store: str) -> dict[str, Any]:
    """Cases in the store whose identifiers were destroyed before (restored from a backup?)."""
    value, current = context.latest(("tombstones", store), context.ledger_head(settings), FORECAST_SECONDS,
                                    lambda: _tombstones_now(settings, store))
    return {**value, "current": current}


def _tombstones_now(settings: Settings, store: str) -> dict[str, Any]:
    from governance.keyprovider import open_keys
    from governance.retention import tables
    from governance.retention.tombstones import resurrected_among, tombstone_key

    case_store = context.case_store(settings, store)
    key = tombstone_key(open_keys(settings))
    with case_store.engine.connect() as conn:
        ids = [str(i) for i in conn.execute(sa.select(case_store.raw("case", "id"))).scalars()]
    found: set[str] = set()
    for start in range(0, len(ids), 5000):
        found |= resurrected_among(case_store, context.state(settings), key, ids[start:start + 5000])
    with context.state(settings).connect() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(tables.tombstones)
                             .where(tables.tombstones.c.store == store)).scalar_one()
    return {"store": store, "tombstones": total, "matches": sorted(found)}

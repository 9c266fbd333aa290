"""Placing and lifting holds from settings: one path for the CLI and the console.

A hold is validated against the stores it applies to
(:func:`governance.retention.holds.resolve_targets`: ids normalised, a target
that matches no record refused unless the hold is pre-emptive), recorded in the
state database, and then written to the ledger as ``retention.hold.placed`` or
``retention.hold.lifted`` with identifiers and counts only, so an auditor can see
when a hold began and ended and who asked. The hold row is written before its
ledger entry on purpose: a crash between the two leaves a hold in force without
its entry (safe: nothing is destroyed), never an entry for a hold that does not
exist; ``hold list`` still shows it.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Mapping

from governance.config import Settings
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.retention.holds import Hold, lift_hold, place_hold
from governance.state import state_engine
from governance.stores.store import CaseStore

__all__ = ["place", "lift"]


def _ledger(settings: Settings) -> Ledger:
    return Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))


def place(settings: Settings, *, actor: str, kind: str, source: str, reason: str, scope: Mapping[str, object],
          placed_on: date, review_on: date, placed_by: str, store: str | None = None,
          pre_emptive: bool = False) -> tuple[Hold, int]:
    """Validate, place and record a hold; returns it and its ledger entry's sequence number."""
    configs = [settings.store(store)] if store else list(settings.stores)
    stores = [CaseStore.open(config) for config in configs]
    try:
        hold = place_hold(state_engine(settings), kind=kind, source=source, reason=reason, scope=scope,
                          placed_on=placed_on, review_on=review_on, placed_by=placed_by,
                          store=configs[0].name if store else None, stores=stores, pre_emptive=pre_emptive,
                          today=datetime.now(timezone.utc).date())
    finally:
        for opened in stores:
            opened.engine.dispose()
    ids = {key: list(hold.scope.get(key, [])) for key in ("case_ids", "family_ids", "person_ids")}
    entry = _ledger(settings).append(
        actor=actor, action="retention.hold.placed", store=hold.store, rule=kind,
        reason="hold placed: matching cases are kept until it is lifted",
        record_ids=[hold.hold_id, *[v for values in ids.values() for v in values]],
        counts={key: len(values) for key, values in ids.items()},
        details={"hold_id": hold.hold_id, "placed_on": placed_on.isoformat(), "review_on": review_on.isoformat(),
                 "case_types": list(hold.scope.get("case_types", [])), "flags": list(hold.scope.get("flags", [])),
                 "all": bool(hold.scope.get("all")), "pre_emptive": bool(hold.scope.get("pre_emptive"))})
    return hold, entry.seq


def lift(settings: Settings, *, actor: str, hold_id: str, lifted_on: date) -> int:
    """Lift a hold in force and record it; returns the ledger entry's sequence number.

    Run again after a lift killed between its row and its ledger entry, it records the lift the row holds.
    """
    from governance.errors import ConfigError
    from governance.retention.ledger_keepers import unrecorded_lift

    ledger = _ledger(settings)
    try:
        lift_hold(state_engine(settings), hold_id, lifted_on=lifted_on)
    except ConfigError:
        lifted_on = unrecorded_lift(ledger.engine, state_engine(settings), hold_id)
        if lifted_on is None:
            raise
    entry = ledger.append(
        actor=actor, action="retention.hold.lifted", reason="hold lifted: its cases follow their schedule again",
        record_ids=[hold_id], details={"hold_id": hold_id, "lifted_on": lifted_on.isoformat()})
    return entry.seq

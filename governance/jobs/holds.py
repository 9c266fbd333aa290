"""Placing and lifting holds from settings: one path for the CLI and the console.

A hold is validated against the stores it applies to
(:func:`governance.retention.holds.resolve_targets`: ids normalised, a target
that matches no record refused unless the hold is pre-emptive), recorded in the
state database, and written to the ledger as ``retention.hold.placed`` or
``retention.hold.lifted`` with identifiers and counts only, so an auditor can see
when a hold began and ended and who asked.

Both go through one unit of work (:mod:`governance.unit`): when the ledger
shares the state database (the default) the hold row and its entry commit
together. With a separate ledger database the order is chosen so that a crash
between the two errs on the side of keeping records: a *placed* hold commits
first and its entry follows (a hold in force without its entry; ``hold list``
shows it), a *lift* is entered first and commits after (an entry for a lift that
did not happen, never a lifted hold the ledger does not show). Entries are keyed
by hold id, so a retry does not write a second one.
"""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Mapping

from governance.config import Settings
from governance.errors import ConfigError
from governance.retention.holds import Hold, lift_hold, place_hold
from governance.retention.ledger_keepers import unrecorded_lift
from governance.unit import Unit

__all__ = ["place", "lift"]


def place(settings: Settings, *, actor: str, kind: str, source: str, reason: str, scope: Mapping[str, object],
          placed_on: date, review_on: date, placed_by: str, store: str | None = None,
          pre_emptive: bool = False) -> tuple[Hold, int]:
    """Validate, place and record a hold; returns it and its ledger entry's sequence number."""
    configs = [settings.store(store)] if store else list(settings.stores)
    with Unit.open(settings) as unit:
        with unit.transaction() as work:
            hold = place_hold(work.conn, kind=kind, source=source, reason=reason, scope=scope,
                              placed_on=placed_on, review_on=review_on, placed_by=placed_by,
                              store=configs[0].name if store else None,
                              stores=[unit.store(config.name) for config in configs], pre_emptive=pre_emptive,
                              today=datetime.now(timezone.utc).date())
            ids = {key: list(hold.scope.get(key, [])) for key in ("case_ids", "family_ids", "person_ids")}
            once = f"placed:{hold.hold_id}"
            work.append_once(
                key=once, actor=actor, action="retention.hold.placed", store=hold.store, rule=kind,
                reason="hold placed: matching cases are kept until it is lifted",
                record_ids=[hold.hold_id, *[v for values in ids.values() for v in values]],
                counts={key: len(values) for key, values in ids.items()},
                details={"hold_id": hold.hold_id, "placed_on": placed_on.isoformat(),
                         "review_on": review_on.isoformat(), "case_types": list(hold.scope.get("case_types", [])),
                         "flags": list(hold.scope.get("flags", [])), "all": bool(hold.scope.get("all")),
                         "pre_emptive": bool(hold.scope.get("pre_emptive"))})
        return hold, work.seqs[once]


def lift(settings: Settings, *, actor: str, hold_id: str, lifted_on: date) -> int:
    """Lift a hold in force and record it; returns the ledger entry's sequence number.

    Run again for a hold already lifted in the state database whose lift the ledger lacks (a lift
    killed midway by an earlier version, which committed the row first), it records that lift.
    """
    with Unit.open(settings) as unit, unit.transaction() as work:
        try:
            lift_hold(work.conn, hold_id, lifted_on=lifted_on)
        except ConfigError:
            recorded = unrecorded_lift(unit.ledger.engine, unit.state, hold_id)
            if recorded is None:
                raise
            lifted_on = recorded
        return work.append_once_now(
            key=f"lifted:{hold_id}", actor=actor, action="retention.hold.lifted",
            reason="hold lifted: its cases follow their schedule again",
            record_ids=[hold_id], details={"hold_id": hold_id, "lifted_on": lifted_on.isoformat()})

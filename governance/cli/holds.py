"""``governance retention hold``: place, list and lift holds."""

from __future__ import annotations

import argparse
import getpass
from datetime import date

from governance.cli._common import add_json_flag, emit, iso_date, settings_from

__all__ = ["register_holds"]


def register_holds(sub: argparse._SubParsersAction) -> None:
    from governance.retention.holds import HOLD_FLAGS, HOLD_KINDS

    hold = sub.add_parser("hold", help="holds that stop destruction", description="Place, list and lift holds.")
    hsub = hold.add_subparsers(dest="hold_command", metavar="STEP", required=True)
    add = hsub.add_parser("add", help="place a hold", description="Place a hold: a query over cases with a named "
                          "source, a reason and a review date. A case matching any of the options is held.")
    add.add_argument("--kind", choices=HOLD_KINDS, required=True)
    add.add_argument("--source", required=True, help="who asked: a court, an inquiry, a solicitor")
    add.add_argument("--reason", required=True)
    add.add_argument("--placed-on", type=iso_date, required=True)
    add.add_argument("--review-on", type=iso_date, required=True)
    add.add_argument("--placed-by", required=True)
    add.add_argument("--store", default=None, help="only this store (default: every store)")
    add.add_argument("--case-id", action="append", default=[])
    add.add_argument("--family-id", action="append", default=[])
    add.add_argument("--person-id", action="append", default=[])
    add.add_argument("--case-type", action="append", default=[])
    add.add_argument("--flag", action="append", default=[], choices=HOLD_FLAGS)
    add.add_argument("--all", action="store_true", help="every case")
    add.add_argument("--pre-emptive", action="store_true",
                     help="accept case, family or person ids that match no record yet (a deliberate pre-emptive "
                          "hold, e.g. a case being transferred in); without it such an id is refused")
    add_json_flag(add)
    add.set_defaults(handler=run_add)
    listing = hsub.add_parser("list", help="holds in force", description="List holds in force on a date.")
    listing.add_argument("--as-of", type=iso_date, required=True)
    listing.add_argument("--store", default="default")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)
    lift = hsub.add_parser("lift", help="lift a hold", description="Lift a hold from a date.")
    lift.add_argument("hold_id")
    lift.add_argument("--lifted-on", type=iso_date, required=True)
    add_json_flag(lift)
    lift.set_defaults(handler=run_lift)


def _state(args):
    from governance.state import state_engine

    return state_engine(settings_from(args))


def _stores(args, name: str | None) -> list:
    """The stores a hold applies to: the one named, or every configured store."""
    from governance.stores.store import CaseStore

    settings = settings_from(args)
    return [CaseStore.open(settings.store(name))] if name else [CaseStore.open(s) for s in settings.stores]


def _actor(args) -> str:
    return f"cli:{getpass.getuser()}"


def run_add(args) -> int:
    from governance.jobs.holds import place

    scope = {"all": args.all, "case_ids": args.case_id, "family_ids": args.family_id, "person_ids": args.person_id,
             "case_types": args.case_type, "flags": args.flag}
    hold, seq = place(settings_from(args), actor=_actor(args), kind=args.kind, source=args.source, reason=args.reason,
                      scope=scope, placed_on=args.placed_on, review_on=args.review_on, placed_by=args.placed_by,
                      store=args.store, pre_emptive=args.pre_emptive)
    emit(args, {**hold.to_json(), "ledger_seq": seq},
         lambda r: f"hold {r['hold_id']} placed ({r['kind']}, source {r['source']}) on "
         + _targets(r["scope"]) + f", review on {r['review_on']}"
         + (" (pre-emptive)" if r["scope"].get("pre_emptive") else "") + f"; ledger entry {r['ledger_seq']}")
    return 0


def _targets(scope: dict) -> str:
    if scope.get("all"):
        return "every case"
    parts = [f"{key.replace('_ids', '').replace('_', ' ')} {', '.join(values)}" for key, values in scope.items()
             if isinstance(values, list)]
    return "; ".join(parts)


def run_list(args) -> int:
    from governance.retention.holds import active_holds, unmatched_targets

    found = active_holds(_state(args), args.store, args.as_of)
    [store] = _stores(args, args.store)
    try:
        holds = [{**h.to_json(), "matching_nothing": unmatched_targets(store, h)} for h in found]
    finally:
        store.engine.dispose()
    overdue = [h["hold_id"] for h in holds if date.fromisoformat(h["review_on"]) < args.as_of]
    emit(args, {"holds": holds, "review_overdue": overdue}, lambda r: "\n".join(
        [f"{h['hold_id']}: {h['kind']} from {h['source']} since {h['placed_on']}, review {h['review_on']}, on "
         + _targets(h["scope"])
         + (" (REVIEW OVERDUE)" if h["hold_id"] in r["review_overdue"] else "")
         + (f" (pre-emptive: matches nothing for {', '.join(h['matching_nothing'])})"
            if h["scope"].get("pre_emptive") and h["matching_nothing"] else "")
         + (f" (MATCHES NOTHING: {', '.join(h['matching_nothing'])})"
            if h["matching_nothing"] and not h["scope"].get("pre_emptive") else "")
         for h in r["holds"]] or ["no holds in force"]))
    return 0


def run_lift(args) -> int:
    from governance.jobs.holds import lift

    seq = lift(settings_from(args), actor=_actor(args), hold_id=args.hold_id, lifted_on=args.lifted_on)
    emit(args, {"hold_id": args.hold_id, "lifted_on": args.lifted_on.isoformat(), "ledger_seq": seq},
         lambda r: f"hold {r['hold_id']} lifted from {r['lifted_on']}; ledger entry {r['ledger_seq']}")
    return 0

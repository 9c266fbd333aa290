"""``governance quality``: run the data-quality suites, inspect and release the quarantine.

    governance quality run [--store NAME] [--as-of DATE] [--dormant-years N] [--json]
    governance quality quarantine list [--store NAME] [--record ID] [--json]
    governance quality quarantine release --store NAME --record ID [--rule RULE] --reason TEXT

``run`` is what the ``data_quality`` DAG does for each store. Output names
stores, rules, counts and where the Data Docs are; ``quarantine list`` shows
record identifiers, entities, rules and cases, never record content.
"""

from __future__ import annotations

import argparse
import getpass
from datetime import datetime, timezone

from governance.cli._common import add_json_flag, emit, iso_date, settings_from
from governance.errors import ConfigError

__all__ = ["register"]




def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return value


def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "quality", help="data-quality suites, quarantine and Data Docs",
        description="Validate case stores with the Great Expectations suites in expectations/, "
                    "quarantine failing records, publish Data Docs (counts only).")
    sub = parser.add_subparsers(dest="quality_command", metavar="SUBCOMMAND", required=True)

    run = sub.add_parser("run", help="validate stores, sync the quarantine, publish Data Docs",
                         description="Run every suite over each configured store (or --store), quarantine failing "
                                     "records, release those that now pass, publish Data Docs. Exit 1 if a store fails "
                                     "validation as a whole (rules errored, failures unidentified, too many cases quarantined).")
    run.add_argument("--store", default=None, help="only this store (default: every configured store)")
    run.add_argument("--as-of", type=iso_date, default=None,
                     help="the date rules compare against (default: today's date, read once here)")
    run.add_argument("--dormant-years", type=int, default=3, help="report open cases with no activity for this long (default 3)")
    run.add_argument("--max-quarantined-share", type=_share, default=0.25,
                     help="a store with more of its cases quarantined fails (default 0.25)")
    run.add_argument("--no-publish", action="store_true", help="do not publish Data Docs")
    run.add_argument("--actor", default=None, help="who is acting, for the ledger (default cli:<user>)")
    add_json_flag(run)
    run.set_defaults(handler=run_quality)

    quarantine = sub.add_parser("quarantine", help="list or release quarantined records",
                                description="Records quarantined by data quality: what retention is holding back.")
    qsub = quarantine.add_subparsers(dest="quarantine_command", metavar="ACTION", required=True)
    listing = qsub.add_parser("list", help="active quarantine rows", description="List active quarantine rows.")
    listing.add_argument("--store", default=None, help="only this store")
    listing.add_argument("--record", default=None, help="only this record identifier")
    add_json_flag(listing)
    listing.set_defaults(handler=run_list)

    release = qsub.add_parser("release", help="release records by hand (recorded in the ledger)",
                              description="Release active quarantine rows of records by hand, e.g. after a correction "
                                          "the next run would confirm. The next run quarantines them again if they still fail.")
    release.add_argument("--store", required=True, help="the store the records belong to")
    release.add_argument("--record", action="append", required=True, dest="records", help="record identifier (repeatable)")
    release.add_argument("--rule", default=None, help="only rows of this rule")
    release.add_argument("--reason", required=True, help="why, for the ledger (no personal data)")
    release.add_argument("--actor", default=None, help="who is acting, for the ledger (default cli:<user>)")
    add_json_flag(release)
    release.set_defaults(handler=run_release)


def run_quality(args: argparse.Namespace) -> int:
    from governance.jobs.quality import validate_store

    settings = settings_from(args)
    names = [settings.store(args.store).name] if args.store else [s.name for s in settings.stores]
    now = datetime.now(timezone.utc)
    as_of = args.as_of or now.date()
    if args.dormant_years < 1:
        raise ConfigError(f"--dormant-years must be at least 1, got {args.dormant_years}")
    run_id = f"cli__{now:%Y%m%dT%H%M%SZ}"
    stores = [validate_store(settings, store=name, as_of=as_of, run_id=run_id, actor=_actor(args),
                             dormant_years=args.dormant_years, max_quarantined_share=args.max_quarantined_share,
                             publish=not args.no_publish) for name in names]
    emit(args, {"run_id": run_id, "stores": stores}, _human_run)
    return 0 if all(s["passed"] for s in stores) else 1


def _human_run(result: dict) -> str:
    lines = []
    for s in result["stores"]:
        c = s["counts"]
        verdict = "passed" if s["passed"] else f"FAILED ({', '.join(s['gate'])})"
        lines.append(f"{s['store']}: {verdict} as of {s['as_of']}: {c['rules_passed']} rules passed, "
                     f"{c['rules_failed']} failed, {c['rules_skipped']} skipped, {c['rules_errored']} errored; "
                     f"{c['quarantined_new']} records newly quarantined, {c['released']} released, "
                     f"{c['quarantined_active']} under quarantine ({c['cases_quarantined']} of {c['cases']} cases)")
        for rule, count in sorted(s["failed_rules"].items()):
            lines.append(f"  failed  {rule}: {count}")
        for rule in s["skipped_rules"]:
            lines.append(f"  skipped {rule} (not mapped in this store)")
        if s.get("data_docs_uri"):
            lines.append(f"  Data Docs: {s['data_docs_uri']}")
    return "\n".join(lines)


def _state(args: argparse.Namespace):
    from governance.state import state_engine

    settings = settings_from(args)
    return settings, state_engine(settings)


def run_list(args: argparse.Namespace) -> int:
    from governance.quality.quarantine import active_rows

    settings, state = _state(args)
    names = [settings.store(args.store).name] if args.store else [s.name for s in settings.stores]
    rows = [
        {"store": r["store"], "entity": r["entity"], "record_id": r["record_id"], "case_id": r["case_id"],
         "rule": r["expectation"], "quarantined_at": r["quarantined_at"], "quarantined_run": r["quarantined_run"]}
        for name in names for r in active_rows(state, name, record_id=args.record)
    ]
    emit(args, {"rows": rows, "count": len(rows)}, lambda r: "\n".join(
        [f"{x['store']} {x['entity']} {x['record_id']} case={x['case_id'] or '-'} rule={x['rule']} "
         f"since {x['quarantined_at']}" for x in r["rows"]] + [f"{r['count']} active quarantine rows"]))
    return 0


def run_release(args: argparse.Namespace) -> int:
    from governance.quality.quarantine import release_records
    from governance.unit import Unit

    settings = settings_from(args)
    store = settings.store(args.store).name
    now = datetime.now(timezone.utc)
    with Unit.open(settings) as unit:
        released = release_records(unit, store, list(args.records), rule=args.rule, at=now,
                                   run_id=f"cli-release__{now:%Y%m%dT%H%M%SZ}", actor=_actor(args), reason=args.reason)
        unit.ledger.checkpoint()
    total = sum(len(ids) for ids in released.values())
    emit(args, {"store": store, "released": released, "count": total}, lambda r: "\n".join(
        [f"released {rid} from {rule}" for rule, ids in sorted(r["released"].items()) for rid in ids]
        + [f"{r['count']} records released in store {r['store']}"]))
    return 0 if total else 1

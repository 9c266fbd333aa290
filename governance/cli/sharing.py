"""``governance sharing``: consent answers, compliance runs and findings for the IG team.

Every command prints identifiers, agency codes, rule codes, dates and counts;
none prints names or note text (a finding's resolution note is stored, not shown).
"""

from __future__ import annotations

import argparse
from datetime import datetime, timezone
from typing import Any

from governance.cli._common import add_json_flag, emit, iso_date, settings_from
from governance.sharing.policy import DEFAULT_PRIVACY_NOTICE_DAYS, RULE_CODES
from governance.stores.model import AGENCIES

__all__ = ["register"]




def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("sharing", help="consent, information sharing and file-access compliance",
                                 description="Consent answers, sharing-compliance runs and findings.")
    sub = parser.add_subparsers(dest="sharing_command", metavar="SUBCOMMAND", required=True)

    check = sub.add_parser("check", help="may a family's information be shared with an agency on a day?",
                           description="Answer allowed, override_required (allowed only with a recorded lawful "
                                       "override) or refused, with the basis and the consent form it rests on.")
    check.add_argument("--family", required=True, help="family id")
    check.add_argument("--case", default=None, help="answer for the work of this case (its own consent form; "
                                                    "legal duty only if it is statutory)")
    check.add_argument("--agency", required=True, choices=AGENCIES, metavar="AGENCY",
                       help="agency code from the consent form: " + ", ".join(AGENCIES))
    check.add_argument("--on", required=True, type=iso_date, help="the day of the share (YYYY-MM-DD)")
    check.add_argument("--store", default="default", help="case store (default: default)")
    add_json_flag(check)
    check.set_defaults(handler=run_check)

    consent = sub.add_parser("consent", help="a family's consent forms as they stood on a day",
                             description="Every consent form signed for the family by --on: agreed, opt-outs, withdrawal.")
    consent.add_argument("--family", required=True, help="family id")
    consent.add_argument("--on", required=True, type=iso_date, help="as of this day (YYYY-MM-DD)")
    consent.add_argument("--store", default="default", help="case store (default: default)")
    add_json_flag(consent)
    consent.set_defaults(handler=run_consent)

    run = sub.add_parser("run", help="run the compliance checks now (what the DAG does)",
                         description="Run the sharing compliance checks, update the findings and write the ledger.")
    run.add_argument("--store", default=None, help="only this store (default: every configured store)")
    run.add_argument("--as-of", required=True, type=iso_date, help="check as of this day (YYYY-MM-DD)")
    run.add_argument("--privacy-notice-days", type=int, default=DEFAULT_PRIVACY_NOTICE_DAYS,
                     help=f"days after opening for the privacy-notice casenote (default {DEFAULT_PRIVACY_NOTICE_DAYS})")
    add_json_flag(run)
    run.set_defaults(handler=run_run)

    found = sub.add_parser("findings", help="list findings (ids, rules, dates, status)",
                           description="List sharing findings: keys, rules, record ids, dates, status.")
    found.add_argument("--store", default=None, help="only this store")
    found.add_argument("--status", choices=("open", "resolved"), default=None, help="only this status")
    found.add_argument("--rule", choices=RULE_CODES, metavar="RULE", default=None, help="only this rule")
    add_json_flag(found)
    found.set_defaults(handler=run_findings)

    resolve = sub.add_parser("resolve", help="resolve a finding with a note (it stays resolved)",
                             description="Resolve one finding with a note; later runs leave it resolved.")
    resolve.add_argument("finding_key", help="the finding key, RULE:RECORD_ID")
    resolve.add_argument("--store", default="default", help="case store (default: default)")
    resolve.add_argument("--note", required=True, help="why it is resolved (kept in the findings table only)")
    resolve.add_argument("--by", required=True, help="who resolved it (user name)")
    add_json_flag(resolve)
    resolve.set_defaults(handler=run_resolve)

    recipients = sub.add_parser("recipients", help="who received a person's information (for access requests)",
                                description="Recipients from the sharing log: agency, purpose, date, lawful basis.")
    recipients.add_argument("--person", required=True, help="person id")
    recipients.add_argument("--store", default="default", help="case store (default: default)")
    add_json_flag(recipients)
    recipients.set_defaults(handler=run_recipients)


def _open_store(args: argparse.Namespace):
    from governance.stores.store import CaseStore

    store = CaseStore.open(settings_from(args).store(args.store))
    store.check_schema()
    return store


def run_check(args: argparse.Namespace) -> int:
    from governance.sharing.decision import check_sharing

    answer = check_sharing(_open_store(args), args.family, args.agency, args.on, case_id=args.case).to_json()
    emit(args, answer, lambda r: f"{r['decision']} (basis: {r['basis'] or 'none'}): {r['explanation']}")
    return 0


def run_consent(args: argparse.Namespace) -> int:
    from governance.sharing.consent import consent_history, family_exists, UnknownRecord

    store = _open_store(args)
    if not family_exists(store, args.family):
        raise UnknownRecord(f"store {store.name}: no family {args.family}")
    forms = [f.to_json() for f in consent_history(store, as_of=args.on, family_id=args.family)]
    result = {"store": store.name, "family_id": args.family, "on": args.on.isoformat(), "forms": forms}

    def human(r: dict[str, Any]) -> str:
        if not r["forms"]:
            return f"family {r['family_id']}: no consent form signed by {r['on']}"
        return "\n".join(
            f"{f['consent_id']}: signed {f['given_on']} by {f['given_by']}; share={f['consent_to_share']} "
            f"approach={f['consent_to_approach']}; opted out: {', '.join(f['opted_out']) or 'none'}; "
            f"withdrawn: {f['withdrawn_on'] or 'no'}" for f in r["forms"])

    emit(args, result, human)
    return 0


def run_run(args: argparse.Namespace) -> int:
    from governance.jobs.sharing import alert_ig_team, check_store, stores_to_check

    settings = settings_from(args)
    names = [args.store] if args.store else stores_to_check(settings)
    run_id = f"cli:{datetime.now(timezone.utc):%Y%m%dT%H%M%S.%fZ}"
    results = [check_store(settings, store=name, as_of=args.as_of, run_id=run_id, actor="cli:governance",
                           privacy_notice_days=args.privacy_notice_days) for name in names]
    totals = alert_ig_team(results)
    emit(args, {"run_id": run_id, "stores": results, "totals": totals}, lambda r: "\n".join(
        f"{s['store']}: {s['open_total']} open finding(s), {s['new']} new, ledger entry {s['ledger_seq']}; "
        + ", ".join(f"{rule}={n}" for rule, n in s["by_rule"].items() if n) for s in r["stores"]))
    return 0


def _state(args: argparse.Namespace):
    from governance.state import state_engine

    return state_engine(settings_from(args))


def run_findings(args: argparse.Namespace) -> int:
    from governance.sharing.findings import list_findings

    with _state(args).connect() as conn:
        rows = list_findings(conn, store=args.store, status=args.status, rule=args.rule)
    emit(args, {"findings": rows, "count": len(rows)}, lambda r: "\n".join(
        [f"{f['store']} {f['finding_key']} {f['status']} event {f['event_on']} first seen {f['first_seen_as_of']}"
         for f in r["findings"]] + [f"{r['count']} finding(s)"]))
    return 0


def run_resolve(args: argparse.Namespace) -> int:
    from governance.sharing.findings import resolve_and_record
    from governance.unit import Unit

    with Unit.open(settings_from(args)) as unit:
        result = resolve_and_record(unit, store=args.store, finding_key=args.finding_key, by=args.by, note=args.note,
                                    at=datetime.now(timezone.utc), actor=f"cli:{args.by.strip()}")
    emit(args, result, lambda r: f"{r['finding_key']} resolved (ledger entry {r['ledger_seq']})")
    return 0


def run_recipients(args: argparse.Namespace) -> int:
    from governance.sharing.log import recipients_for_person

    rows = recipients_for_person(_open_store(args), args.person)
    emit(args, {"person_id": args.person, "recipients": rows}, lambda r: "\n".join(
        [f"{x['shared_on']} {x['agency']} ({x['lawful_basis'] or 'no basis recorded'}): {x['purpose']}"
         for x in r["recipients"]] or [f"no recorded recipients for {r['person_id']}"]))
    return 0

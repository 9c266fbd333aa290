"""``governance retention``: plan, review and execute disposition; manage holds."""

from __future__ import annotations

import argparse

from governance.cli._common import Progress, add_json_flag, emit, iso_date, settings_from

__all__ = ["register"]


def register(commands: argparse._SubParsersAction) -> None:
    from governance.retention.batches import CHUNK_SIZE

    parser = commands.add_parser("retention", help="retention plans, disposition batches and holds",
                                 description="Plan, review and execute disposition of cases past retention; manage holds.")
    sub = parser.add_subparsers(dest="retention_command", metavar="SUBCOMMAND", required=True)

    plan = sub.add_parser("plan", help="dry run: what is due, excluded and why, and the 24-month forecast",
                          description="Print due cases with the rule that made them due, excluded cases with reason "
                                      "codes, counts per class and a 24-month forecast. Changes nothing.")
    _store_and_date(plan)
    plan.add_argument("--summary", action="store_true", help="counts and forecast only, no case lists")
    add_json_flag(plan)
    plan.set_defaults(handler=run_plan)

    sweep = sub.add_parser("sweep", help="plan, batch, approve, execute, verify and certify in one go",
                           description="The whole sweep from the command line. It first finishes the store's unfinished "
                                       "batches (an execution a killed process left). Approval needs --approved-by; "
                                       "under the two-person rule it must differ from --created-by. The as-of date "
                                       "cannot be after today. One sweep per store at a time: a second one changes "
                                       "nothing and exits 2.")
    _store_and_date(sweep)
    sweep.add_argument("--created-by", required=True)
    sweep.add_argument("--approved-by", required=True)
    _quality_gate(sweep)
    add_json_flag(sweep)
    sweep.set_defaults(handler=run_sweep)

    batch = sub.add_parser("batch", help="disposition batches", description="Create, review, execute, verify, certify.")
    bsub = batch.add_subparsers(dest="batch_command", metavar="STEP", required=True)
    create = bsub.add_parser("create", help="make a batch of the cases due now", description="Make a batch from a plan.")
    _store_and_date(create)
    create.add_argument("--created-by", required=True)
    create.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help=f"cases per chunk (default {CHUNK_SIZE})")
    _quality_gate(create)
    add_json_flag(create)
    create.set_defaults(handler=run_create)
    approve = bsub.add_parser("approve", help="approve a proposed batch", description="Approve a proposed batch.")
    approve.add_argument("batch_id")
    approve.add_argument("--approved-by", required=True, dest="reviewer")
    approve.add_argument("--note", default=None, help="the reviewer's note")
    add_json_flag(approve)
    approve.set_defaults(handler=run_approve)
    reject = bsub.add_parser("reject", help="reject a proposed batch (a reason is required)",
                             description="Reject a proposed batch. Its cases are not proposed again until the rejection "
                                         "is lifted (retention rejection lift) or expires.")
    reject.add_argument("batch_id")
    reject.add_argument("--rejected-by", required=True, dest="reviewer")
    reject.add_argument("--reason", "--note", required=True, dest="note", help="why (kept in the ledger)")
    reject.add_argument("--rejection-days", type=int, default=None,
                        help="how long the rejection stands (default $GOVERNANCE_RETENTION_REJECTION_DAYS or 90)")
    add_json_flag(reject)
    reject.set_defaults(handler=run_reject)
    execute = bsub.add_parser("execute", help="execute an approved batch, chunk by chunk (safe to rerun)",
                              description="Execute an approved batch; a rerun finishes what an interrupted run left. "
                                          "Holds and access requests in force now win over the batch's as-of date.")
    execute.add_argument("batch_id")
    execute.add_argument("--as-of", type=iso_date, default=None, help="judge the clocks as of (default: the batch's)")
    execute.add_argument("--actor", required=True)
    add_json_flag(execute)
    execute.set_defaults(handler=run_execute)
    for name, handler, helptext in (("verify", "run_verify", "check nothing of the batch remains"),
                                    ("certificate", "run_certificate", "issue the JSON and PDF destruction certificate")):
        p = bsub.add_parser(name, help=helptext, description=helptext.capitalize() + ".")
        p.add_argument("batch_id")
        p.add_argument("--actor", required=True)
        add_json_flag(p)
        p.set_defaults(handler=globals()[handler])
    show = bsub.add_parser("show", help="a batch's status and counts", description="Show a batch.")
    show.add_argument("batch_id")
    add_json_flag(show)
    show.set_defaults(handler=run_show)

    from governance.cli.holds import register_holds

    register_holds(sub)
    _register_rejections(sub)


def _register_rejections(sub: argparse._SubParsersAction) -> None:
    rejection = sub.add_parser("rejection", help="rejections that keep cases out of batches",
                               description="List and lift standing rejections.")
    rsub = rejection.add_subparsers(dest="rejection_command", metavar="STEP", required=True)
    listing = rsub.add_parser("list", help="standing rejections", description="Rejections standing today.")
    listing.add_argument("--store", default="default")
    add_json_flag(listing)
    listing.set_defaults(handler=run_rejection_list)
    lift = rsub.add_parser("lift", help="lift a rejection so its cases can be proposed again",
                           description="Lift the rejection of a batch, or of one case.")
    lift.add_argument("--store", default="default")
    lift.add_argument("--batch", default=None, dest="batch_id")
    lift.add_argument("--case-id", default=None)
    lift.add_argument("--lifted-by", required=True)
    lift.add_argument("--reason", required=True)
    add_json_flag(lift)
    lift.set_defaults(handler=run_rejection_lift)


def run_rejection_list(args) -> int:
    from datetime import datetime, timezone

    from governance.retention.rejections import rejections
    from governance.state import state_engine

    found = rejections(state_engine(settings_from(args)), args.store, datetime.now(timezone.utc).date())
    emit(args, {"store": args.store, "rejections": found}, lambda r: "\n".join(
        [f"{x['batch_id']}: {x['cases']} cases rejected by {x['rejected_by']} until {x['expires_on']}: {x['reason']}"
         for x in r["rejections"]] or [f"no standing rejections in store {r['store']}"]))
    return 0


def run_rejection_lift(args) -> int:
    from datetime import datetime, timezone

    from governance.retention.rejections import lift_rejection
    from governance.state import state_engine

    lifted = lift_rejection(state_engine(settings_from(args)), store=args.store, lifted_by=args.lifted_by,
                            reason=args.reason, now=datetime.now(timezone.utc), batch_id=args.batch_id,
                            case_id=args.case_id)
    emit(args, {"store": args.store, "lifted": lifted}, lambda r: f"{r['lifted']} rejected cases may be proposed again")
    return 0


def _quality_gate(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quality-max-age-hours", type=float, default=36.0,
                   help="make no batch unless the store passed data quality within this many hours "
                        "(default 36; 0 turns the gate off, for a store validated by other means)")


def _gate_age(args):
    from datetime import timedelta

    if args.quality_max_age_hours < 0:
        from governance.errors import ConfigError

        raise ConfigError("--quality-max-age-hours must be 0 or more")
    return timedelta(hours=args.quality_max_age_hours) if args.quality_max_age_hours else None


def _store_and_date(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", type=iso_date, required=True, help="the date retention is judged on (YYYY-MM-DD)")
    p.add_argument("--store", default="default", help="configured case store (default: default)")


def run_plan(args) -> int:
    from governance.jobs.retention import plan

    result = plan(settings_from(args), args.store, as_of=args.as_of, list_cases=not args.summary)
    emit(args, result, _plan_text)
    return 0


def _plan_text(r: dict) -> str:
    c = r["counts"]
    lines = [f"retention plan for store {r['store']} as of {r['as_of']} (schedule {r['schedule']['name']}, "
             f"version {r['schedule']['version'][:12]}): {c['cases']} cases"]
    lines.append("  by status: " + ", ".join(f"{k} {v}" for k, v in sorted(c["by_status"].items())))
    lines.append("  due by action: " + (", ".join(f"{k} {v}" for k, v in sorted(c["due_by_action"].items())) or "none"))
    for case_type, statuses in c["by_class"].items():
        lines.append(f"  {case_type}: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    if c["exclusion_reasons"]:
        lines.append("  reasons: " + ", ".join(f"{k} {v}" for k, v in c["exclusion_reasons"].items()))
    lines.append("  next 24 months: " + " ".join(str(m["cases"]) for m in r["forecast"]))
    return "\n".join(lines)


def run_create(args) -> int:
    from governance.jobs.retention import propose

    if args.chunk_size < 1:
        from governance.errors import ConfigError

        raise ConfigError("--chunk-size must be at least 1")
    result = propose(settings_from(args), args.store, as_of=args.as_of, created_by=args.created_by,
                     chunk_size=args.chunk_size, quality_max_age=_gate_age(args))
    emit(args, result, lambda r: f"batch {r['batch_id']} ({r['status']}): {r['due']} cases in {r['chunks']} chunks"
         if r["batch_id"] else f"nothing due in store {r['store']} as of {r['as_of']}")
    return 0


def run_approve(args) -> int:
    from governance.jobs.retention import approve

    result = approve(settings_from(args), args.batch_id, approved_by=args.reviewer, note=args.note)
    emit(args, result, lambda r: f"batch {r['batch_id']} approved by {r['approved_by']}")
    return 0


def run_reject(args) -> int:
    from governance.jobs.retention import reject

    result = reject(settings_from(args), args.batch_id, rejected_by=args.reviewer, note=args.note,
                    rejection_days=args.rejection_days)
    emit(args, result, lambda r: f"batch {r['batch_id']} rejected by {r['approved_by']}: its cases are not proposed "
         "again until the rejection is lifted or expires")
    return 0


def run_execute(args) -> int:
    from governance.jobs.retention import execute_all

    progress = Progress(f"executing {args.batch_id}", interval=0.5)
    result = execute_all(settings_from(args), args.batch_id, as_of=args.as_of, actor=args.actor, progress=progress.update)
    emit(args, result, lambda r: f"batch {r['batch_id']}: {r['cases']} cases in {r['chunks']} chunks, "
         f"{r['object_versions']} object versions deleted, {r['skipped']} held back (reasons in the ledger's "
         "retention.skipped entries and the certificate)")
    return 0


def run_verify(args) -> int:
    from governance.jobs.retention import verify

    result = verify(settings_from(args), args.batch_id, actor=args.actor)
    emit(args, result, lambda r: f"batch {r['batch_id']} verified: {r['cases_destroyed']} cases gone, "
         f"0 rows and 0 object versions remain")
    return 0


def run_certificate(args) -> int:
    from governance.jobs.retention import certify

    result = certify(settings_from(args), args.batch_id, actor=args.actor)
    emit(args, result, lambda r: f"certificate for {r['batch_id']}:\n  {r['pdf_uri']}\n  {r['json_uri']}")
    return 0


def run_show(args) -> int:
    from governance.jobs.retention import batch_status

    emit(args, batch_status(settings_from(args), args.batch_id),
         lambda r: f"batch {r['batch_id']}: {r['status']}, {r['counts']['cases']} cases, created by {r['created_by']}, "
                   + (f"rejected by {r['approved_by']}: nothing destroyed" if r["status"] == "rejected"
                      else f"decided by {r['approved_by'] or 'nobody yet'}"))
    return 0


def run_sweep(args) -> int:
    from governance.jobs import retention as jobs

    result = jobs.sweep(settings_from(args), args.store, as_of=args.as_of, created_by=args.created_by,
                        approved_by=args.approved_by, quality_max_age=_gate_age(args))
    emit(args, result, _sweep_text)
    return 0


def _sweep_text(r: dict) -> str:
    lines = [f"finished unfinished batch {f['batch_id']} (was {f['was']}): {f['destroyed']} destroyed, "
             f"{f['anonymised']} anonymised, {f['skipped']} held back" for f in r["finished"]]
    p = r["proposed"]
    if not p["batch_id"]:
        lines.append(f"nothing due in store {p['store']} as of {p['as_of']}")
        return "\n".join(lines)
    c = r["certificate"]
    lines.append(f"batch {p['batch_id']}: {c['destroyed']} destroyed, {c['anonymised']} anonymised, {c['skipped']} held "
                 f"back; verified; certificate {c['pdf_uri']}")
    return "\n".join(lines)

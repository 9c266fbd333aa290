"""``governance research``: the study register, extracts and the end of studies.

    governance research register SPEC.toml        # or .json
    governance research approve STUDY --by "IG board"
    governance research list | show STUDY
    governance research build STUDY [--as-of DATE]
    governance research export STUDY --to DIR     # a recorded local copy, deleted at the end
    governance research end STUDY [--as-of DATE]
    governance research overdue [--as-of DATE]
    governance research certificate STUDY

``--as-of`` defaults to today; it is the date the action is taken for (age
bands, whether a study is running or over). Output names studies, extracts,
keys, objects and counts only.
"""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import date
from pathlib import Path
from typing import Any

from governance.cli._common import add_json_flag, emit, iso_date, settings_from

__all__ = ["register"]




def _actor(args: argparse.Namespace) -> str:
    return args.actor or f"cli:{getpass.getuser()}"


def _common(parser: argparse.ArgumentParser, *, as_of: bool = True) -> None:
    if as_of:
        parser.add_argument("--as-of", type=iso_date, default=None, help="the date acted for (default today)")
    parser.add_argument("--actor", default=None, help="who is acting, for the ledger (default cli:<user>)")
    add_json_flag(parser)


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("research", help="research studies: register, build extracts, end studies",
                                 description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="research_command", metavar="ACTION", required=True)

    p = sub.add_parser("register", help="register or update a study from a TOML or JSON specification")
    p.add_argument("spec", type=Path, help="specification file (.toml or .json)")
    _common(p)
    p.set_defaults(handler=_register)

    p = sub.add_parser("approve", help="record a study's approval")
    p.add_argument("study_id")
    p.add_argument("--by", required=True, help="the approver (a role or board, as recorded)")
    _common(p)
    p.set_defaults(handler=_approve)

    p = sub.add_parser("list", help="every registered study and its status")
    add_json_flag(p)
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="one study, its extracts and their disclosure reports (counts only)")
    p.add_argument("study_id")
    add_json_flag(p)
    p.set_defaults(handler=_show)

    p = sub.add_parser("build", help="build, check and release (or withhold) a study's extract")
    p.add_argument("study_id")
    _common(p)
    p.set_defaults(handler=_build)

    p = sub.add_parser("export", help="decrypt a released extract into a folder (recorded; deleted at study end)")
    p.add_argument("study_id")
    p.add_argument("--to", type=Path, required=True, help="folder to write Parquet files into")
    _common(p)
    p.set_defaults(handler=_export)

    p = sub.add_parser("end", help="run a study's end action (anonymise or destroy) and certify it")
    p.add_argument("study_id")
    _common(p)
    p.set_defaults(handler=_end)

    p = sub.add_parser("overdue", help="flag studies past their end date that have not been ended")
    p.add_argument("--grace-days", type=int, default=0, help="days after the end date before a study is overdue")
    _common(p)
    p.set_defaults(handler=_overdue)

    p = sub.add_parser("certificate", help="print a study's end-of-study certificate (JSON)")
    p.add_argument("study_id")
    p.set_defaults(handler=_certificate)


def _as_of(args: argparse.Namespace) -> date:
    return args.as_of or date.today()  # the CLI is the edge: domain functions get the date explicitly


def _register(args: argparse.Namespace) -> int:
    from governance.research.spec import load_spec
    from governance.research.studies import register_study

    result = register_study(settings_from(args), load_spec(args.spec), actor=_actor(args), as_of=_as_of(args))
    emit(args, result, lambda r: f"{r['study_id']}: {r['status']}" + ("" if r["changed"] else " (unchanged)"))
    return 0


def _approve(args: argparse.Namespace) -> int:
    from governance.research.studies import approve_study

    result = approve_study(settings_from(args), args.study_id, approver=args.by, actor=_actor(args), as_of=_as_of(args))
    emit(args, result, lambda r: f"{r['study_id']}: approved" + ("" if r["changed"] else " (already)"))
    return 0


def _list(args: argparse.Namespace) -> int:
    from governance.research.studies import list_studies

    rows = [s.summary() for s in list_studies(settings_from(args))]

    def human(result: dict[str, Any]) -> str:
        if not result["studies"]:
            return "no studies registered"
        return "\n".join(f"{s['study_id']:<24} {s['status']:<10} ends {s['end_on']}  end action {s['end_action']}"
                         + (f"  OVERDUE since {s['overdue_since']}" if s["overdue_since"] and s["status"] != "ended" else "")
                         + (f"  {s['end_outcome']} on {s['ended_on']}" if s["ended_on"] else "")
                         for s in result["studies"])

    emit(args, {"studies": rows}, human)
    return 0


def _show(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from governance.research import tables as t
    from governance.research.studies import get_study
    from governance.state import state_engine

    with state_engine(settings_from(args)).connect() as conn:
        study = get_study(conn, args.study_id)
        extracts = [{"extract_id": r.extract_id, "status": r.status, "built_on": r.built_on.isoformat(),
                     "rows": r.rows, "persons": r.persons, "parts": r.parts,
                     "report": json.loads(r.report_json) if r.report_json else None}
                    for r in conn.execute(sa.select(t.extracts).where(t.extracts.c.study_id == args.study_id)
                                          .order_by(t.extracts.c.extract_id))]
    result = {**study.summary(), "extracts": extracts}
    emit(args, result, lambda r: json.dumps(r, indent=2, sort_keys=True))
    return 0


def _build(args: argparse.Namespace) -> int:
    from governance.research.extracts import build_extract

    result = build_extract(settings_from(args), args.study_id, as_of=_as_of(args), actor=_actor(args))
    emit(args, result, lambda r: (
        f"{r['extract_id']}: {r['status']}: {r['rows']} rows, {r['persons']} persons, {r['classes']} classes, "
        f"{r['parts']} part(s); failing classes: k {r['k_failing_classes']}, l {r['l_failing_classes']}"))
    return 0 if result["status"] == "released" else 1


def _export(args: argparse.Namespace) -> int:
    from governance.research.extracts import export_extract

    result = export_extract(settings_from(args), args.study_id, args.to, actor=_actor(args), as_of=_as_of(args))
    emit(args, result, lambda r: "\n".join(r["files"]))
    return 0


def _end(args: argparse.Namespace) -> int:
    from governance.research.ending import end_study

    result = end_study(settings_from(args), args.study_id, as_of=_as_of(args), actor=_actor(args))
    emit(args, result, lambda r: (
        f"{r['study_id']}: {r['outcome']} on {r['performed_on']}: {r['objects_deleted']} object(s), "
        f"{r['versions_removed']} version(s) and {r['local_copies_deleted']} local cop(ies) deleted; key "
        f"{r['key_id'] or '(none)'} destroyed; certificate {r['certificate_key']}"
        + (" (already ended)" if r.get("already_ended") else "")))
    return 0


def _overdue(args: argparse.Namespace) -> int:
    from governance.research.schedule import flag_overdue

    found = flag_overdue(settings_from(args), as_of=_as_of(args), actor=_actor(args), grace_days=args.grace_days)
    emit(args, {"overdue": found}, lambda r: "\n".join(
        f"OVERDUE {o['study_id']}: ended {o['end_on']}, {o['days_overdue']} day(s) ago" for o in r["overdue"])
        or "no overdue studies")
    return 1 if found else 0


def _certificate(args: argparse.Namespace) -> int:
    import sqlalchemy as sa

    from governance.research import tables as t
    from governance.research.errors import StudyStateError
    from governance.state import state_engine

    with state_engine(settings_from(args)).connect() as conn:
        body = conn.execute(sa.select(t.certificates.c.certificate_json)
                            .where(t.certificates.c.study_id == args.study_id)).scalar()
    if body is None:
        raise StudyStateError(f"study {args.study_id} has no certificate (not ended)")
    print(body)
    return 0

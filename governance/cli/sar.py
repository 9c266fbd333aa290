"""``governance sar``: subject access requests for records management.

Lodge a request, watch its deadline, pause and extend it, review the pack
(counts per exemption code, the same pack Airflow's review form shows), read
every record as it will go out (``preview``), redact by quoting text, lift by
label, decide flagged notes (:mod:`governance.cli.sar_review`), approve the
pack by its hash, then bundle and deliver.
Output carries identifiers, counts, dates and file paths only; the bundle key
is written to a 0600 file, never printed.
"""

from __future__ import annotations

import argparse
import json
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

from governance.cli._common import add_json_flag, emit, iso_date, settings_from

__all__ = ["register"]


def _span(text: str) -> tuple[date, date]:
    try:
        a, b = text.split(":")
        return iso_date(a), iso_date(b)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a FROM:TO pair of dates: {text!r}") from None


def _sub(commands: Any, name: str, help_: str, handler: Any, *, request: bool = True, json_flag: bool = True):
    parser = commands.add_parser(name, help=help_, description=help_[0].upper() + help_[1:] + ".")
    if request:
        parser.add_argument("--request", required=True, metavar="ID", help="the request id (sar-...)")
    if json_flag:
        add_json_flag(parser)
    parser.set_defaults(handler=handler)
    return parser


def register(commands: argparse._SubParsersAction) -> None:
    from governance.sar.exemptions import EXEMPTIONS
    from governance.sar.register import AUTHORITY_EVIDENCE, CHILD_VIEWS, PARENT_BASES, PAUSE_REASONS, REQUESTER_KINDS
    from governance.sar.review import SEND_BACK_REASONS

    parser = commands.add_parser("sar", help="subject access requests: deadlines, review, bundles",
                                 description="Subject access requests: register, deadlines, review, bundles, delivery.")
    sub = parser.add_subparsers(dest="sar_command", metavar="SUBCOMMAND", required=True)

    p = _sub(sub, "deadline", "calculate a request's statutory deadline", run_deadline, request=False)
    p.add_argument("--received", type=iso_date, required=True, help="day the request was received")
    p.add_argument("--id-received", type=iso_date, help="day identity (or authority) asked for was received")
    p.add_argument("--extended-on", type=iso_date, help="day the requester was told of an extension")
    p.add_argument("--clarification", type=_span, action="append", default=[], metavar="ASKED:ANSWERED",
                   help="a clarification awaited (stops the clock; repeatable)")

    p = _sub(sub, "lodge", "register a request (holds the subject's cases)", run_lodge, request=False)
    p.add_argument("--store", default="default")
    p.add_argument("--subject", required=True, metavar="PERSON_ID", help="the subject's person id in the store")
    p.add_argument("--received", type=iso_date, required=True)
    p.add_argument("--request-id", help="choose the id (default: derived from store, subject and date)")
    p.add_argument("--requester-kind", choices=REQUESTER_KINDS, default="subject")
    p.add_argument("--requester-person", metavar="PERSON_ID", help="the requester's person id, if in the store")
    p.add_argument("--parent-basis", choices=PARENT_BASES)
    p.add_argument("--child-competence", choices=("competent", "not_competent"))
    p.add_argument("--competence-assessed-by")
    p.add_argument("--competence-assessed-on", type=iso_date)
    p.add_argument("--child-view", choices=CHILD_VIEWS)
    p.add_argument("--authority-evidence", choices=AUTHORITY_EVIDENCE)
    p.add_argument("--identity-requested", action="store_true", help="identity asked for: the clock waits")
    p.add_argument("--authority-requested", action="store_true", help="authority asked for: the clock waits")
    p.add_argument("--actor", default="cli:records-management")

    for name, help_ in (("pause", "the clock waits: identity, authority or clarification asked for"),
                        ("resume", "what was awaited arrived: the clock runs again")):
        p = _sub(sub, name, help_, run_pause)
        p.add_argument("--reason", choices=PAUSE_REASONS, required=True)
        p.add_argument("--on", type=iso_date, required=True)
    p = _sub(sub, "extend", "record that the requester was told of a two-month extension", run_extend)
    p.add_argument("--notified-on", type=iso_date, required=True)
    p.add_argument("--reason", choices=("complex", "numerous"), required=True)

    _sub(sub, "show", "a request, its deadline calculation and status", run_show)
    p = _sub(sub, "list", "requests (pending only with --pending)", run_list, request=False)
    p.add_argument("--pending", action="store_true")
    p = _sub(sub, "due", "pending requests due within N days, and overdue ones", run_due, request=False)
    p.add_argument("--as-of", type=iso_date, required=True)
    p.add_argument("--within", type=int, default=7)

    _sub(sub, "review", "search, redact and show the review pack (counts per exemption code)", run_review)
    p = _sub(sub, "exempt", "apply a reviewer-only exemption to a record or a span of it", run_exempt)
    p.add_argument("--entity", required=True, choices=("casenote", "document", "sharing_record", "consent",
                                                      "access_log"))
    p.add_argument("--record", required=True)
    p.add_argument("--code", required=True, choices=sorted(EXEMPTIONS))
    p.add_argument("--field", default="*", help="* for the whole record (to redact text, use sar redact --quote)")
    p.add_argument("--start", type=int, help=argparse.SUPPRESS)
    p.add_argument("--end", type=int, help=argparse.SUPPRESS)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True, help="the reviewer")
    p = _sub(sub, "confirm", "second reviewer's confirmation of a serious-harm or child-abuse exemption", run_confirm,
             request=False)
    p.add_argument("--exemption", type=int, required=True)
    p.add_argument("--by", required=True)
    from governance.cli import sar_review

    sar_review.register(sub, _sub)
    p = _sub(sub, "approve", "approve the review pack you read, by its hash", run_approve)
    p.add_argument("--approved-by", required=True)
    p.add_argument("--pack-hash", required=True, help="the pack hash shown by sar review / sar preview")
    p.add_argument("--withhold-undecided", action="store_true",
                   help="accept the proposed withholding of every flagged note not yet decided")
    p = _sub(sub, "send-back", "send the pack back for more work", run_send_back)
    p.add_argument("--by", required=True)
    p.add_argument("--reason", choices=SEND_BACK_REASONS, required=True)
    p = _sub(sub, "bundle", "build, encrypt, store and deliver the bundle of an approved request", run_bundle)
    p.add_argument("--as-of", type=iso_date, required=True, help="the date the bundle is prepared")
    p.add_argument("--actor", default="cli:records-management")
    p = _sub(sub, "close", "close a request without a bundle (releases the hold)", run_close)
    p.add_argument("--status", choices=("closed", "withdrawn"), required=True)
    p.add_argument("--actor", default="cli:records-management")
    p = _sub(sub, "open", "decrypt a delivered package and verify its manifest", run_open, request=False)
    p.add_argument("--package", type=Path, required=True)
    p.add_argument("--key-file", type=Path, required=True, help="the key file (hex on its last line)")
    p.add_argument("--out", type=Path, required=True, help="folder to write the files into")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _conn(args: argparse.Namespace):
    from governance.state import state_engine

    return state_engine(settings_from(args)).begin()


def _row(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def run_deadline(args: argparse.Namespace) -> int:
    from governance.sar.deadlines import calculate_deadline

    result = calculate_deadline(args.received, id_received=args.id_received, extended_on=args.extended_on,
                                clarifications=args.clarification).to_json()
    emit(args, result, lambda r: "\n".join([f"deadline {r['deadline']}", *r["notes"]]))
    return 0


def run_lodge(args: argparse.Namespace) -> int:
    from governance.jobs.sar import lodge_request

    requester = {"requester_person_id": args.requester_person, "parent_basis": args.parent_basis,
                 "child_competence": args.child_competence, "competence_assessed_by": args.competence_assessed_by,
                 "competence_assessed_on": args.competence_assessed_on, "child_view": args.child_view,
                 "authority_evidence": args.authority_evidence}
    result = lodge_request(settings_from(args), store=args.store, subject_person_id=args.subject, received_on=args.received,
                           actor=args.actor, request_id=args.request_id, requester_kind=args.requester_kind,
                           identity_requested=args.identity_requested, authority_requested=args.authority_requested,
                           **requester)
    emit(args, result, lambda r: f"{r['request_id']}: {r['status']}, deadline {r['deadline'] or 'clock not started'}"
         + ("" if r["created"] else " (already lodged)"))
    return 0


def run_pause(args: argparse.Namespace) -> int:
    from governance.sar import register

    act = register.pause if args.sar_command == "pause" else register.resume
    with _conn(args) as conn:
        row = act(conn, args.request, args.reason, args.on, _now())
    emit(args, _row(row), lambda r: f"{r['request_id']}: {r['status']}, deadline {r['deadline'] or 'clock stopped'}")
    return 0


def run_extend(args: argparse.Namespace) -> int:
    from governance.sar import register

    with _conn(args) as conn:
        row = register.extend(conn, args.request, args.notified_on, args.reason, _now())
        calc = register.deadline_of(conn, args.request)
    result = {**_row(row), "calculation": calc.to_json() if calc else None}
    emit(args, result, lambda r: f"{r['request_id']}: deadline {r['deadline'] or 'clock stopped'}"
         + ("" if not r["calculation"] else "; " + "; ".join(r["calculation"]["notes"])))
    return 0


def run_show(args: argparse.Namespace) -> int:
    from governance.sar import register

    with _conn(args) as conn:
        row = register.get_request(conn, args.request)
        calc = register.deadline_of(conn, args.request)
    result = {**_row(row), "calculation": calc.to_json() if calc else None}
    emit(args, result, lambda r: "\n".join(f"{k}: {v}" for k, v in r.items() if k != "calculation" and v is not None))
    return 0


def run_list(args: argparse.Namespace) -> int:
    from governance.sar import register

    with _conn(args) as conn:
        rows = [_row(r) for r in register.list_requests(conn, pending=args.pending)]
    emit(args, {"requests": rows}, lambda r: "\n".join(
        f"{x['request_id']} {x['store']} {x['status']} received {x['received_on']} due {x['deadline']}"
        for x in r["requests"]) or "no requests")
    return 0


def run_due(args: argparse.Namespace) -> int:
    from governance.jobs.sar import check_deadlines

    result = check_deadlines(settings_from(args), as_of=args.as_of, within_days=args.within)
    emit(args, result, lambda r: f"{r['pending']} pending: {r['due_soon']} due within {r['within_days']} days, "
         f"{r['overdue']} overdue, {r['clock_stopped']} with the clock stopped")
    return 0


def run_review(args: argparse.Namespace) -> int:
    from governance.jobs import sar as jobs
    from governance.sar.review import pack_markdown

    settings = settings_from(args)
    jobs.discover_request(settings, args.request)
    jobs.redact_request(settings, args.request)
    pack = jobs.prepare_review(settings, args.request)
    emit(args, pack, pack_markdown)
    return 0


def run_exempt(args: argparse.Namespace) -> int:
    from governance.sar.review import apply_exemption

    with _conn(args) as conn:
        exemption_id = apply_exemption(conn, args.request, entity=args.entity, record_id=args.record, code=args.code,
                                       reason=args.reason, by=args.by, at=_now(), field=args.field, start=args.start,
                                       end=args.end)
    emit(args, {"exemption_id": exemption_id, "request_id": args.request, "code": args.code},
         lambda r: f"exemption {r['exemption_id']} ({r['code']}) recorded on {r['request_id']}; run sar review again")
    return 0


def run_confirm(args: argparse.Namespace) -> int:
    from governance.sar.review import confirm_exemption

    with _conn(args) as conn:
        result = confirm_exemption(conn, args.exemption, by=args.by, at=_now())
    emit(args, result, lambda r: f"exemption {r['exemption_id']} ({r['code']}) confirmed by a second reviewer")
    return 0


def run_approve(args: argparse.Namespace) -> int:
    from governance.jobs.sar import record_review

    result = record_review(settings_from(args), args.request, decision="approved", reviewer=args.approved_by,
                           seen_hash=args.pack_hash, channel="cli", actor=f"cli:{args.approved_by}",
                           withhold_undecided=args.withhold_undecided)
    emit(args, result, lambda r: f"{r['request_id']}: approved (pack {r['pack_hash'][:16]})"
         + ("; it was already approved: nothing recorded" if r.get("already_approved") else ""))
    return 0


def run_send_back(args: argparse.Namespace) -> int:
    from governance.jobs.sar import record_review

    result = record_review(settings_from(args), args.request, decision="sent_back", reviewer=args.by, seen_hash=None,
                           channel="cli", actor=f"cli:{args.by}", reason_code=args.reason)
    emit(args, result, lambda r: f"{r['request_id']}: sent back ({args.reason})")
    return 0


def run_bundle(args: argparse.Namespace) -> int:
    from governance.jobs.sar import build_bundle, deliver_bundle

    settings = settings_from(args)
    built = build_bundle(settings, args.request, as_of=args.as_of)
    delivered = deliver_bundle(settings, args.request, as_of=args.as_of, actor=args.actor)
    result = {**built, **delivered}
    if result.get("already_delivered"):
        emit(args, result, lambda r: f"{r['request_id']}: already delivered (package {r['package_key']}); nothing "
             f"rebuilt; `governance sar handover --request {r['request_id']}` writes its key and link files again")
        return 0
    emit(args, result, lambda r: f"{r['request_id']}: delivered; package {r.get('package_uri', r['package_key'])}\n"
         f"key file {r.get('key_file')} and link file {r.get('link_file')}: send them by different channels")
    return 0


def run_close(args: argparse.Namespace) -> int:
    from governance.jobs.sar import close_request

    result = close_request(settings_from(args), args.request, status=args.status, actor=args.actor)
    emit(args, result, lambda r: f"{r['request_id']}: {r['status']} (hold released)")
    return 0


def run_open(args: argparse.Namespace) -> int:
    """Open a package (a path, file://, s3:// URI or the https link) with its key file, into --out."""
    from governance.errors import KeyMaterialError, LocalFileError, StorageError
    from governance.handover import read_uri
    from governance.sar.package import key_id, open_package

    if args.out.exists() and not args.out.is_dir():
        raise LocalFileError(f"--out {args.out} is a file: give a folder to write the bundle's files into")
    try:
        key = bytes.fromhex(args.key_file.read_text("utf-8").strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        raise StorageError(f"cannot read the key file {args.key_file} (hex on its last line)") from None
    expected = getattr(args, "expect_key_id", None)
    if expected and key_id(key) != expected:
        raise KeyMaterialError(f"the key in {args.key_file} has id {key_id(key)}, not {expected}")
    blob = read_uri(str(args.package), s3_endpoint_url=settings_from(args).s3_endpoint_url)
    files, manifest, problems = open_package(blob, key)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (args.out / name).write_bytes(data)
    result = {"request_id": manifest.get("request_id"), "files": sorted(files), "verified": not problems,
              "problems": problems, "out": str(args.out), "key_id": key_id(key)}
    emit(args, result, lambda r: json.dumps(r))
    return 0 if not problems else 1

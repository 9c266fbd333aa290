"""``governance sar preview / redact / lift / decide / awaiting``: the reviewer's commands.

The reviewer reads what goes out (``preview``: every record, each redaction
highlighted as ``[[LABEL CODE RULE: text]]``, or an HTML page with
``--html``), redacts by quoting text (``redact --record ID --quote "..."``),
lifts by label (``lift --label R-... | W-... | M<n>``), decides notes flagged
as third-party information (``decide --withhold | --release``) and lists the
exemptions awaiting a second reviewer (``awaiting``). Every change prints the
new pack hash: the approval (``sar approve --pack-hash``) must name it.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any, Callable

from governance.cli import _common
from governance.cli._common import emit

__all__ = ["register"]


def register(sub: argparse._SubParsersAction, make: Callable[..., argparse.ArgumentParser]) -> None:
    from governance.sar.exemptions import EXEMPTIONS

    p = make(sub, "preview", "every record as it will go out, redactions highlighted and labelled", run_preview)
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the preview as an HTML page (0600)")
    p = make(sub, "redact", "redact quoted text in one record (a reviewer's exemption)", run_redact)
    p.add_argument("--record", required=True, metavar="ID")
    p.add_argument("--quote", "--redact", dest="quote", required=True, metavar="TEXT",
                   help="the text to redact, exactly as the preview shows it")
    p.add_argument("--code", required=True, choices=sorted(EXEMPTIONS))
    p.add_argument("--occurrence", type=int, help="which occurrence, when the text occurs more than once (1..N)")
    p.add_argument("--field", help="title, body, text or information (default: any)")
    p.add_argument("--entity", help="when the record id is shared by records of different kinds")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True, help="the reviewer")
    p = make(sub, "lift", "lift a redaction or withholding by its label (R-..., W-..., or M<n> to withdraw yours)",
             run_lift)
    p.add_argument("--label", required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)
    p = make(sub, "decide", "decide a note flagged as third-party information", run_decide)
    p.add_argument("--record", required=True, metavar="ID")
    choice = p.add_mutually_exclusive_group(required=True)
    choice.add_argument("--withhold", action="store_true", help="withhold it in full (Sch. 2 Part 3 para 16)")
    choice.add_argument("--release", action="store_true", help="release it with its redactions, as previewed")
    p.add_argument("--reason", required=True)
    p.add_argument("--by", required=True)
    p = make(sub, "awaiting", "exemptions awaiting a second reviewer (all requests, or --request)", run_awaiting,
             request=False)
    p.add_argument("--request", metavar="ID")


def _changed(r: dict[str, Any]) -> str:
    return f"new pack hash {r['pack_hash']}: read the preview again before approving"


def run_preview(args: argparse.Namespace) -> int:
    from governance.jobs.sar_review import preview_request
    from governance.sar.preview import preview_html, preview_text

    preview = preview_request(_common.settings_from(args), args.request)
    if args.html:
        fd = os.open(args.html, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # record text: private
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write("<!doctype html><meta charset=utf-8><title>Access request preview</title>\n")
            out.write(preview_html(preview))
    emit(args, preview, preview_text)
    return 0


def run_redact(args: argparse.Namespace) -> int:
    from governance.jobs.sar_review import redact_quote

    result = redact_quote(_common.settings_from(args), args.request, record_id=args.record, quote=args.quote, code=args.code,
                          reason=args.reason, by=args.by, entity=args.entity, field=args.field,
                          occurrence=args.occurrence)
    emit(args, result, lambda r: f"{r['label']} ({r['code']}) on {r['record_id']} {r['field']}; " + _changed(r))
    return 0


def run_lift(args: argparse.Namespace) -> int:
    from governance.jobs.sar_review import lift_label

    result = lift_label(_common.settings_from(args), args.request, label=args.label, reason=args.reason, by=args.by)
    emit(args, result, lambda r: f"{r['lifted']} lifted; " + _changed(r))
    return 0


def run_decide(args: argparse.Namespace) -> int:
    from governance.jobs.sar_review import decide_flag

    result = decide_flag(_common.settings_from(args), args.request, record_id=args.record, withhold=args.withhold,
                         reason=args.reason, by=args.by)
    emit(args, result, lambda r: f"{r['record_id']}: {r['decision']}; " + _changed(r))
    return 0


def run_awaiting(args: argparse.Namespace) -> int:
    from governance.jobs.sar_review import awaiting_second_reviewer

    result = awaiting_second_reviewer(_common.settings_from(args), args.request)
    emit(args, result, lambda r: "\n".join(
        f"M{a['exemption_id']} {a['request_id']} {a['code']} on {a['entity']} {a['record_id']} by {a['applied_by']} "
        f"({a['applied_at']})" for a in r["awaiting"]) or "no exemptions await a second reviewer")
    return 0

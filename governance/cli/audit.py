"""``governance audit``: verify, export, list and record audit ledger entries.

``verify`` exits 0 when the ledger (or an exported bundle) is intact, 1 when it
was altered, 2 on an expected error (database unreachable, bundle missing).
Progress goes to stderr so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from governance.cli._common import Progress, add_json_flag, emit, settings_from
from governance.keys import KeyStore
from governance.ledger import Ledger, LedgerEntry, verify_bundle
from governance.ledger.verify import PROGRESS_EVERY, VerifyReport

__all__ = ["register", "cmd_verify", "cmd_export", "cmd_log", "cmd_record"]


def register(subparsers: Any) -> None:
    """Add ``audit`` and its sub-commands to the top-level parser."""
    audit = subparsers.add_parser(
        "audit",
        help="the audit ledger: verify, export, log, record",
        description="The append-only, hash-chained, signed audit ledger.",
    )
    commands = audit.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)

    verify = commands.add_parser("verify", help="check the ledger's hash chain and signatures")
    verify.add_argument("--bundle", type=Path, metavar="DIR", help="verify an exported bundle instead of the database")
    verify.add_argument("--expect-key-id", metavar="ID",
                        help="key id or fingerprint published separately; a different signing key is a failure")
    add_json_flag(verify)
    verify.set_defaults(handler=cmd_verify)

    export = commands.add_parser("export", help="write an offline bundle an auditor can verify without the database")
    export.add_argument("directory", type=Path, metavar="DIR", help="new or empty folder")
    add_json_flag(export)
    export.set_defaults(handler=cmd_export)

    log = commands.add_parser("log", help="list recent entries (identifiers and counts)")
    log.add_argument("--tail", type=_positive, default=20, metavar="N", help="how many entries (default 20)")
    add_json_flag(log)
    log.set_defaults(handler=cmd_log)

    record = commands.add_parser("record", help="append one entry (a manual note) and seal it")
    record.add_argument("--action", required=True)
    record.add_argument("--actor", required=True)
    record.add_argument("--reason")
    record.add_argument("--rule")
    record.add_argument("--store")
    record.add_argument("--record-id", dest="record_ids", action="append", default=[], metavar="ID",
                        help="an affected record's identifier (repeatable)")
    add_json_flag(record)
    record.set_defaults(handler=cmd_record)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _open(args: argparse.Namespace, *, create: bool, keys: bool = False) -> Ledger:
    settings = settings_from(args)
    return Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir) if keys else None, create=create)


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the database ledger or, with --bundle, an exported bundle."""
    if args.bundle is not None:
        report = verify_bundle(args.bundle, args.expect_key_id, progress=_progress("verifying bundle", None))
    else:
        ledger = _open(args, create=False)
        try:
            head = ledger.head()
            progress = _progress("verifying ledger", head.seq if head else None)
            report = ledger.verify(expect_key_id=args.expect_key_id, progress=progress)
        finally:
            ledger.close()
    emit(args, report.to_dict(), lambda _: _verdict(report))
    return 0 if report.ok else 1


def _progress(label: str, total: int | None) -> Callable[[int], None]:
    """Progress on stderr, only for runs long enough to need it."""
    bar = Progress(label, total)

    def update(done: int) -> None:
        if done >= PROGRESS_EVERY:  # the verifier reports every PROGRESS_EVERY entries, then at the end
            bar.update(done)

    return update


def _verdict(report: VerifyReport) -> str:
    lines = [report.summary()]
    if report.ok:
        for key_id in report.key_ids:
            lines.append(f"  signed by key {key_id} (fingerprint {report.fingerprints.get(key_id, 'unknown')})")
        if report.unsealed:
            lines.append(f"  {report.unsealed} newest entries are not yet sealed by a checkpoint")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a bundle; seal the head first when this machine holds the signing key."""
    settings = settings_from(args)
    keys = KeyStore(settings.keys_dir)
    # Only seal with a key that already exists: an export must never mint a new
    # signing key as a side effect (e.g. an auditor's machine).
    ledger = Ledger.open(settings.ledger_url, keys if keys.has_signing_key() else None, create=False)
    try:
        report = ledger.export(args.directory)
    finally:
        ledger.close()
    emit(args, report.to_dict(),
         lambda r: f"exported {r['entries']} entries and {r['checkpoints']} checkpoints to {r['directory']} "
                   f"(head {r['head_hash'] or '-'})")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    """List the newest entries: identifiers and counts, which is all an entry holds."""
    ledger = _open(args, create=False)
    try:
        head = ledger.head()
        start = max(1, head.seq - args.tail + 1) if head else 1
        entries = list(ledger.entries(start)) if head else []
    finally:
        ledger.close()
    emit(args, {"entries": [e.to_dict() for e in entries]}, lambda _: _log_lines(entries))
    return 0


def _log_lines(entries: list[LedgerEntry]) -> str:
    if not entries:
        return "ledger is empty"
    lines = []
    for e in entries:
        ids = ", ".join(e.record_ids[:3]) + (f" (+{len(e.record_ids) - 3} more)" if len(e.record_ids) > 3 else "")
        counts = " ".join(f"{k}={v}" for k, v in sorted(e.counts.items()))
        where = " ".join(part for part in (f"store={e.store}" if e.store else "", f"rule={e.rule}" if e.rule else "") if part)
        lines.append(f"{e.seq:>8} {e.recorded_at} {e.action} by {e.actor}"
                     + (f" {where}" if where else "") + (f" records: {ids}" if ids else "")
                     + (f" counts: {counts}" if counts else ""))
    return "\n".join(lines)


def cmd_record(args: argparse.Namespace) -> int:
    """Append one entry and seal it at once (a manual note should not wait for a job)."""
    ledger = _open(args, create=True, keys=True)
    try:
        entry = ledger.append(actor=args.actor, action=args.action, reason=args.reason, rule=args.rule,
                              store=args.store, record_ids=args.record_ids)
        ledger.checkpoint()
    finally:
        ledger.close()
    emit(args, entry.to_dict(), lambda r: f"recorded entry {r['seq']} ({r['action']}), hash {r['entry_hash']}")
    return 0

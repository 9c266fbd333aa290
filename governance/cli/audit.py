"""``governance audit``: verify, export, prove, list and record audit ledger entries.

``verify`` (and ``verify-receipt``) exit 0 when the ledger, bundle or receipt is
intact, 1 when it was altered, 2 on an expected error (database unreachable,
file missing or unreadable). ``verify`` opens the database read-only, so an
auditor can run it on a read-only copy. ``head`` prints the newest signed tree
head for an auditor to keep and pass to ``verify --since`` next time; ``prove``
writes a receipt that ``verify-receipt`` checks with no database.
Progress goes to stderr so ``--json`` output on stdout stays parseable.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import json
import os
import sys

from governance.cli._common import Progress, add_json_flag, emit, settings_from
from governance.errors import LedgerError
from governance.ledger import Checkpoint, Ledger, LedgerEntry, LedgerSigner, verify_bundle
from governance.ledger.receipt import destruction_entries, receipt_for, verify_receipt
from governance.ledger.verify import PROGRESS_EVERY, VerifyReport
from governance.ledger.witness import WITNESS_ENV, open_witness

__all__ = ["register", "cmd_verify", "cmd_export", "cmd_log", "cmd_record", "cmd_head", "cmd_prove",
           "cmd_verify_receipt"]


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
    verify.add_argument("--witness", metavar="URL",
                        help=f"tree-head witness: file:///path, s3://bucket/prefix or none "
                             f"(default ${WITNESS_ENV}, else ledger-witness.jsonl beside the keys)")
    verify.add_argument("--since", type=Path, metavar="HEAD.json",
                        help="a tree head saved earlier (governance audit head): today's ledger must extend it")
    add_json_flag(verify)
    verify.set_defaults(handler=cmd_verify)

    head = commands.add_parser("head", help="print the newest signed tree head (keep it for verify --since)")
    add_json_flag(head)
    head.set_defaults(handler=cmd_head)

    prove = commands.add_parser("prove", help="write a receipt: entries, their inclusion proofs, a signed tree head")
    which = prove.add_mutually_exclusive_group(required=True)
    which.add_argument("--entry", dest="entries", type=_positive, action="append", metavar="SEQ",
                       help="an entry number (repeatable)")
    which.add_argument("--case", metavar="ID", help="the destruction/anonymisation entries of this case")
    prove.add_argument("--out", type=Path, metavar="FILE", help="where to write the receipt (default stdout)")
    prove.set_defaults(handler=cmd_prove)

    check = commands.add_parser("verify-receipt", help="check a receipt offline (no database)")
    check.add_argument("file", type=Path, metavar="FILE")
    check.add_argument("--expect-key-id", metavar="ID", help="the published key id or fingerprint")
    add_json_flag(check)
    check.set_defaults(handler=cmd_verify_receipt)

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
    try:
        value = int(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _open_existing(args: argparse.Namespace) -> Ledger:
    """The ledger, without keys: for reading (a missing ledger is an error, not created)."""
    return Ledger.open(settings_from(args).ledger_url, None, create=False)


def _witness(args: argparse.Namespace) -> object:
    settings = settings_from(args, read_only=True)
    url = getattr(args, "witness", None) or os.environ.get(WITNESS_ENV)
    return open_witness(url, settings.keys_dir)


def _read_json(path: Path, what: str) -> object:
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        raise LedgerError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError):
        raise LedgerError(f"{what} {path} is not readable JSON (UTF-8)") from None


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the database ledger (read-only) or, with --bundle, an exported bundle."""
    witness = _witness(args)
    if args.bundle is not None:
        report = verify_bundle(args.bundle, args.expect_key_id, witness=witness,
                               progress=_progress("verifying bundle", None))
    else:
        since = None
        if args.since is not None:
            try:
                since = Checkpoint.from_signed(_read_json(args.since, "saved tree head"))  # type: ignore[arg-type]
            except LedgerError as error:
                raise LedgerError(f"saved tree head {args.since}: {error}") from None
        settings = settings_from(args, read_only=True)
        ledger = Ledger.open(settings.ledger_url, None, read_only=True, witness=witness)
        try:
            progress = _progress("verifying ledger", None)
            report = ledger.verify(expect_key_id=args.expect_key_id, since=since, progress=progress)
        finally:
            ledger.close()
    emit(args, report.to_dict(), lambda _: _verdict(report))
    return 0 if report.ok else 1


def cmd_head(args: argparse.Namespace) -> int:
    """Print the newest signed tree head as canonical JSON (what ``verify --since`` reads)."""
    settings = settings_from(args, read_only=True)
    ledger = Ledger.open(settings.ledger_url, None, read_only=True, witness=None)
    try:
        heads = ledger.checkpoints()
    finally:
        ledger.close()
    if not heads:
        raise LedgerError("the ledger has no signed tree head yet")
    print(json.dumps(heads[-1].signed(), sort_keys=True, separators=(",", ":")))
    return 0


def cmd_prove(args: argparse.Namespace) -> int:
    """Write a receipt for entries (or a case's destruction entries); seals first if this machine holds the key."""
    settings = settings_from(args)
    signer = LedgerSigner(settings.keys_dir)
    ledger = Ledger.open(settings.ledger_url, signer if signer.exists() else None, create=False)
    try:
        seqs = args.entries
        if args.case is not None:
            seqs = destruction_entries(ledger, args.case)
            if not seqs:
                raise LedgerError(f"no destruction or anonymisation entry names case {args.case[:60]!r}")
        receipt = receipt_for(ledger, seqs)
    finally:
        ledger.close()
    text = json.dumps(receipt, indent=2, sort_keys=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            with open(args.out, "x", encoding="utf-8") as handle:
                handle.write(text)
        except OSError as exc:
            raise LedgerError(f"cannot write receipt {args.out} ({type(exc).__name__})") from None
        size = receipt["tree_head"]["size"]
        print(f"receipt for entries {', '.join(str(e['seq']) for e in receipt['entries'])} "
              f"(tree size {size}) written to {args.out}", file=sys.stderr)
    return 0


def cmd_verify_receipt(args: argparse.Namespace) -> int:
    """Check a receipt with no database: exit 0 valid, 1 invalid, 2 unreadable."""
    report = verify_receipt(_read_json(args.file, "receipt"), args.expect_key_id)
    emit(args, report.to_dict(), lambda _: report.summary())
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
        if report.root:
            lines.append(f"  newest tree head: size {report.tree_size}, root {report.root}")
        if report.unsealed:
            lines.append(f"  {report.unsealed} newest entries are not yet sealed by a checkpoint")
        if report.witness and report.witnessed:
            lines.append(f"  witness {report.witness}: {report.witnessed} tree heads, all in the ledger")
        elif report.witness:
            lines.append(f"  witness {report.witness} holds no tree heads: nothing compared (wrong --witness?)")
        else:
            lines.append("  no witness compared: deleting the newest entries with their tree heads would not show")
        if report.since:
            lines.append(f"  extends your saved tree head of size {report.since['from_size']} "
                         f"(consistency proof of {len(report.since['consistency_proof'])} hashes verified)")
    return "\n".join(lines)


def cmd_export(args: argparse.Namespace) -> int:
    """Export a bundle; seal the head first when this machine holds the signing key."""
    settings = settings_from(args)
    signer = LedgerSigner(settings.keys_dir)
    # Only seal (and sign the manifest) with a key that already exists: an export
    # never mints a signing key (e.g. on an auditor's machine).
    ledger = Ledger.open(settings.ledger_url, signer if signer.exists() else None, create=False)
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
    ledger = _open_existing(args)
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
    from governance.unit import Unit

    with Unit.open(settings_from(args)) as unit:  # no state change: the entry is the whole act
        entry = unit.ledger.append(actor=args.actor, action=args.action, reason=args.reason, rule=args.rule,
                                   store=args.store, record_ids=args.record_ids)
        unit.ledger.checkpoint()
    emit(args, entry.to_dict(), lambda r: f"recorded entry {r['seq']} ({r['action']}), hash {r['entry_hash']}")
    return 0

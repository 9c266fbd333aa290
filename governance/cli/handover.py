"""``governance sar handover`` and ``governance sar open`` from any machine.

Registered after :mod:`governance.cli.sar` (whose ``sar`` command this module
extends): ``sar handover --request ID [--out DIR]`` writes the key and link files
of a delivered request on the machine where it runs; ``sar open --package``
takes a path, ``file://``, ``s3://`` URI or the presigned link itself, and
``--expect-key-id`` refuses a key other than the one the package was sealed with.
A hand-over is recorded in the ledger (``sar.handed_over``, as ``--actor``).

The data-key half of ``governance keys init`` / ``keys show`` is in
:mod:`governance.cli.keys`, beside the ledger's signing key.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from pathlib import Path

from governance.cli._common import add_json_flag, emit, settings_from

__all__ = ["register"]


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction:
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def register(commands: argparse._SubParsersAction) -> None:
    sar = _subparsers(commands.choices["sar"])
    p = sar.add_parser("handover", help="write a delivered request's key and link files on this machine",
                       description="Write a delivered request's key and link files here, to send by two channels.")
    p.add_argument("--request", required=True, metavar="ID")
    p.add_argument("--out", type=Path, help="folder for the two files (default <GOVERNANCE_HOME>/sar/handover/<ID>)")
    p.add_argument("--link-seconds", type=int, default=7 * 24 * 3600, help="lifetime of a renewed link (S3)")
    p.add_argument("--actor", default="cli:records-management", help="who hands over (the ledger entry's actor)")
    add_json_flag(p)
    p.set_defaults(handler=run_handover)

    opener = sar.choices["open"]
    for action in opener._actions:
        if action.dest == "package":  # a URI, not a Path: Path("s3://b/k") would fold the "//"
            action.type, action.help = str, "the package: a path, file://, s3:// URI or the https link"
    opener.add_argument("--expect-key-id", help="refuse a key whose id is not this (the manifest's key id)")



def run_handover(args: argparse.Namespace) -> int:
    from governance.jobs.handover import hand_over

    result = hand_over(settings_from(args), args.request, at=datetime.now(timezone.utc), actor=args.actor,
                       out=args.out, link_seconds=args.link_seconds)
    emit(args, result, lambda r: f"{r['request_id']}: key file {r['key_file']} and link file {r['link_file']} "
         f"(link {'renewed, ' if r['link_renewed'] else ''}expires {r['url_expires_at'] or 'never'}; "
         f"ledger entry {r['ledger_seq']}): send them by different channels")
    return 0

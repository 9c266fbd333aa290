"""``governance keys``: the ledger's signing key, created and rotated only on purpose.

``init`` makes the signing key of a brand-new ledger and registers it (for an
existing ledger it only confirms the key in the folder is the ledger's own: it
never replaces a lost key). ``rotate`` records a rotation in the ledger: an
entry ``ledger.key.rotated`` and a tree head listing the new key, signed by the
old one; the old key file is kept as ``ledger-signing.<key_id>.retired.pem``.
``show`` prints the key id and fingerprint to publish.
"""

from __future__ import annotations

import argparse
from typing import Any

from governance.cli._common import add_json_flag, emit, settings_from
from governance.ledger import Ledger, LedgerSigner

__all__ = ["register", "cmd_init", "cmd_rotate", "cmd_show"]


def register(subparsers: Any) -> None:
    """Add ``keys`` and its sub-commands to the top-level parser."""
    keys = subparsers.add_parser("keys", help="the ledger signing key: init, rotate, show",
                                 description="The audit ledger's Ed25519 signing key.")
    commands = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    init = commands.add_parser("init", help="create and register the signing key of a new ledger")
    add_json_flag(init)
    init.set_defaults(handler=cmd_init)
    rotate = commands.add_parser("rotate", help="replace the signing key, recording the rotation in the ledger")
    rotate.add_argument("--actor", required=True, help="who rotates the key (recorded)")
    rotate.add_argument("--reason", help="why (recorded)")
    add_json_flag(rotate)
    rotate.set_defaults(handler=cmd_rotate)
    show = commands.add_parser("show", help="print the signing key's id and fingerprint")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)


def _result(signer: LedgerSigner, **extra: Any) -> dict[str, Any]:
    return {"key_id": signer.key_id(), "fingerprint": signer.fingerprint(), "path": str(signer.path), **extra}


def cmd_init(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    signer = LedgerSigner(settings.keys_dir)
    existed = signer.exists()
    with Ledger.open(settings.ledger_url, signer) as ledger:
        ledger.init_key()
    emit(args, _result(signer, created=not existed),
         lambda r: f"{'created' if r['created'] else 'found'} ledger signing key {r['key_id']} "
                   f"(fingerprint {r['fingerprint']}); publish the fingerprint for auditors")
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    signer = LedgerSigner(settings.keys_dir)
    with Ledger.open(settings.ledger_url, signer, create=False) as ledger:
        old, new = ledger.rotate_key(actor=args.actor, reason=args.reason)
    emit(args, _result(signer, old_key_id=old),
         lambda r: f"rotated ledger signing key {r['old_key_id']} -> {r['key_id']} "
                   f"(fingerprint {r['fingerprint']}); publish the new fingerprint")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    signer = LedgerSigner(settings_from(args).keys_dir)
    emit(args, _result(signer), lambda r: f"ledger signing key {r['key_id']} fingerprint {r['fingerprint']}")
    return 0

"""``governance keys``: the platform's keys, created and rotated only on purpose.

``init`` makes the signing key of a brand-new ledger and registers it (for an
existing ledger it only confirms the key in the folder is the ledger's own: it
never replaces a lost key), then the shared data keys every host uses (tombstone
and research master keys: :mod:`governance.keyprovider`), each once per
deployment, wrapped under the key provider's master key in the state database. ``rotate`` records a rotation in the ledger: an
entry ``ledger.key.rotated`` and a tree head listing the new key, signed by the
old one; the old key file is kept as ``ledger-signing.<key_id>.retired.pem``.
``show`` prints the signing key's id and fingerprint to publish, and names the
key provider, its master key and which shared data keys exist (ids only).
"""

from __future__ import annotations

from dataclasses import replace

import argparse
from typing import Any

from governance.cli._common import add_json_flag, emit, settings_from
from governance.ledger import Ledger, LedgerSigner

__all__ = ["register", "cmd_init", "cmd_rotate", "cmd_show"]


def register(subparsers: Any) -> None:
    """Add ``keys`` and its sub-commands to the top-level parser."""
    keys = subparsers.add_parser("keys", help="the ledger signing key and the shared data keys: init, rotate, show",
                                 description="The audit ledger's Ed25519 signing key and the data keys every host "
                                             "shares.")
    commands = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND", required=True)
    init = commands.add_parser("init", help="create the signing key of a new ledger and the shared data keys")
    add_json_flag(init)
    init.set_defaults(handler=cmd_init)
    rotate = commands.add_parser("rotate", help="replace the signing key, recording the rotation in the ledger")
    rotate.add_argument("--actor", required=True, help="who rotates the key (recorded)")
    rotate.add_argument("--reason", help="why (recorded)")
    add_json_flag(rotate)
    rotate.set_defaults(handler=cmd_rotate)
    show = commands.add_parser("show", help="the signing key's id and fingerprint; the key provider (ids only)")
    add_json_flag(show)
    show.set_defaults(handler=cmd_show)


def _result(signer: LedgerSigner, **extra: Any) -> dict[str, Any]:
    return {"key_id": signer.key_id(), "fingerprint": signer.fingerprint(), "path": str(signer.path), **extra}


def cmd_init(args: argparse.Namespace) -> int:
    from governance.keyprovider import init_keys

    # The one command that creates a named ledger and state database on purpose (governance.state).
    settings = replace(settings_from(args), databases_named=False)
    signer = LedgerSigner(settings.keys_dir)
    existed = signer.exists()
    with Ledger.open(settings.ledger_url, signer) as ledger:
        ledger.init_key()
    data = init_keys(settings)
    emit(args, _result(signer, created=not existed, data_keys=data),
         lambda r: f"{'created' if r['created'] else 'found'} ledger signing key {r['key_id']} "
                   f"(fingerprint {r['fingerprint']}); publish the fingerprint for auditors\n"
                   f"key provider {r['data_keys']['provider']} (master key {r['data_keys']['master_key_id']}): "
                   f"made {', '.join(r['data_keys']['created']) or 'nothing (all present)'}")
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
    from governance.keyprovider import SHARED_KEY_NAMES, open_keys

    settings = settings_from(args)
    signer = LedgerSigner(settings.keys_dir)
    keys = open_keys(settings)
    provider = {"provider": keys.provider.name, "master_key_id": keys.provider.master_key_id,
                "embedded_default": keys.implicit, "shared_keys": {n: keys.has(n) for n in SHARED_KEY_NAMES}}
    emit(args, _result(signer, **provider),
         lambda r: f"ledger signing key {r['key_id']} fingerprint {r['fingerprint']}\n"
                   f"key provider {r['provider']} (master key {r['master_key_id']}); shared data keys: "
                   + ", ".join(f"{n} {'present' if ok else 'MISSING'}" for n, ok in r["shared_keys"].items()))
    return 0

"""The ``governance`` command line, for records management, IG and auditors.

Each capability registers its sub-commands from its own module. Expected errors
(:class:`~governance.errors.GovernanceError`) print one line and exit non-zero;
no traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from governance.errors import GovernanceError

__all__ = ["main", "build_parser"]


def build_parser() -> argparse.ArgumentParser:
    from governance.cli import audit, handover, quality, research, retention, sar, seed, sharing, store

    parser = argparse.ArgumentParser(
        prog="governance",
        description="Records governance for children's services case stores.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (seed, store, audit, quality, retention, research, sar, sharing, handover):  # handover extends sar
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except GovernanceError as error:
        print(f"governance: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("governance: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The ``governance`` command line, for records management, IG and auditors.

Each capability registers its sub-commands from its own module, listed once in
:data:`COMMAND_MODULES`.

Every failure is one line on stderr and exit status 2, never a traceback:
argument errors, the platform's own errors (:class:`~governance.errors.GovernanceError`)
and every other exception, translated by :func:`governance.errors.translate` into
a line that names the file, database, table or argument and never a record's
content. An exception nobody expected is named by its type only, with a pointer
to ``--debug`` (or ``GOVERNANCE_DEBUG=1``), which prints the traceback as well.
Output cut short by its reader (``governance audit log | head``) ends the command
quietly with status 141, as a Unix filter killed by SIGPIPE would.

While a command runs, files it creates are 0600 and folders 0700
(:func:`governance.config.private_umask`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from typing import NoReturn, Sequence

from governance.config import private_umask
from governance.errors import GovernanceError, UnexpectedError, translate

__all__ = ["main", "build_parser", "COMMAND_MODULES", "DEBUG_ENV"]

# One line per capability: governance/cli/<name>.py with a register(commands) function.
COMMAND_MODULES = (
    "seed",
    "store",
    "audit",
    "keys",
    "quality",
    "retention",
    "research",
    "sar",
    "sharing",
    "handover",  # extends sar (hand-over, open) and keys (data keys)
)
DEBUG_ENV = "GOVERNANCE_DEBUG"
EXIT_BROKEN_PIPE = 128 + 13  # what a shell reports for a process killed by SIGPIPE


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line (the usage is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="governance",
        description="Records governance for children's services case stores.",
    )
    parser.add_argument("--debug", action="store_true",
                        help=f"on an unexpected error, print the traceback too (or set {DEBUG_ENV}=1)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"governance.cli.{name}").register(commands)
    return parser


def _debug_from_env() -> bool:
    return os.environ.get(DEBUG_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def main(argv: Sequence[str] | None = None) -> int:
    debug = _debug_from_env()
    with private_umask():
        try:
            args = build_parser().parse_args(argv)
            debug = debug or args.debug
            code = int(args.handler(args) or 0)
            sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's exit
            return code
        except KeyboardInterrupt:
            print("governance: interrupted", file=sys.stderr)
            return 130
        except BrokenPipeError as exc:
            if _stdout_closed():
                return EXIT_BROKEN_PIPE
            return _fail(translate(exc), debug)  # a connection's pipe, not ours
        except Exception as exc:  # noqa: BLE001 - every failure is one line; --debug shows the rest
            return _fail(translate(exc), debug)


def _fail(error: GovernanceError, debug: bool) -> int:
    message = str(error).splitlines()[0] if str(error) else type(error).__name__
    if isinstance(error, UnexpectedError) and not debug:
        message += f" (run again with --debug, or {DEBUG_ENV}=1, to see the traceback)"
    print(f"governance: error: {message}", file=sys.stderr)
    if debug:
        traceback.print_exc(file=sys.stderr)
    return error.exit_code


def _stdout_closed() -> bool:
    """Whether stdout's reader has gone; if so, point stdout at /dev/null so the exit flush is quiet."""
    import select

    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(mask & (select.POLLERR | select.POLLHUP) for _, mask in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # not a real file (captured in tests)
        return False
    if gone:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
    return gone


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Helpers shared by the sub-commands: settings, JSON output, progress."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import date
from typing import Any, Callable

from governance.config import Settings, prepare_home

__all__ = ["add_json_flag", "emit", "settings_from", "iso_date", "Progress"]


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the result as JSON on stdout")


FIRST_YEAR, LAST_YEAR = 1900, 2999  # 9999-12-31 plus a month overflowed into "unexpected ValueError"


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD; the message echoes at most 40 characters of what was typed.

    Only that form: Python's ``fromisoformat`` also takes ``20261206`` and week dates
    (``2026-W49-7``), which the help, the docs and the stores' reading rule do not promise.
    """
    stripped = text.strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", stripped, flags=re.ASCII):
            raise ValueError(stripped)
        value = date.fromisoformat(stripped)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text[:40]!r} is not a date in YYYY-MM-DD form") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:  # deadlines and forecasts add months and years to it
        raise argparse.ArgumentTypeError(f"{stripped!r} is outside the years {FIRST_YEAR}-{LAST_YEAR} the platform "
                                         "counts dates in")
    return value


_warned_homes: set[str] = set()


def settings_from(_args: argparse.Namespace, *, read_only: bool = False) -> Settings:
    """Settings from the environment, with the home checked (and created 0700) before anything is written.

    A home that cannot hold the platform's files is a :class:`ConfigError`; a home
    other local users can read gets one warning line on stderr per process.
    """
    settings = Settings.from_env()
    warning = prepare_home(settings, read_only=read_only)
    if warning and str(settings.home) not in _warned_homes:
        _warned_homes.add(str(settings.home))
        print(f"governance: {warning}", file=sys.stderr)
    return settings


def emit(args: argparse.Namespace, result: dict[str, Any], human: Callable[[dict[str, Any]], str]) -> None:
    """Print ``result`` as JSON with --json, else as the human summary."""
    if getattr(args, "json", False):
        json.dump(result, sys.stdout, indent=2, sort_keys=True, default=str)
        sys.stdout.write("\n")
    else:
        print(human(result))


class Progress:
    """Progress lines on stderr for long runs, at most one every ``interval`` seconds.

    Lines carry counts only. Quiet when ``enabled`` is false (e.g. under --json
    piped to a file the lines still go to stderr, so stdout stays parseable).
    """

    def __init__(self, label: str, total: int | None = None, *, interval: float = 1.0, enabled: bool = True) -> None:
        self.label = label
        self.total = total
        self.interval = interval
        self.enabled = enabled
        self._started = time.monotonic()
        self._last = 0.0

    def update(self, done: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        elapsed = now - self._started
        rate = done / elapsed if elapsed > 0 else 0.0
        of_total = f"/{self.total}" if self.total else ""
        print(f"{self.label}: {done}{of_total} ({rate:,.0f}/s, {elapsed:,.1f}s)", file=sys.stderr, flush=True)

    def finish(self, done: int) -> None:
        self.update(done, force=True)

"""Reading a store's raw column values as the logical types the platform uses.

Real case-management databases hold dates as DATE, DATETIME or TIMESTAMP
columns, and often as text. One rule decides what the platform accepts, used by
every reader (retention facts, data quality, ``store check``), so that what
``store check`` calls readable is exactly what the jobs can read:

* **dates**: a ``date``; a ``datetime`` (its calendar date as recorded; an
  aware timestamp is first converted to UK local time, because a case closed
  at 00:30 BST on 1 July was closed on 1 July in the council's records); text
  in ISO 8601, either a date ``YYYY-MM-DD`` or a date-time
  ``YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]]`` with an optional ``Z`` or ``+hh:mm``
  offset, surrounding spaces ignored. Anything else (``30/06/2021``,
  ``0000-00-00``, ``not a date``, the empty string, numbers) is *unreadable*:
  the platform never guesses day-first against month-first.
* **booleans**: ``bool``; the integers 0 and 1; text ``0 1 true false t f yes
  no y n`` in any case.

Readers return :data:`UNREADABLE` (not ``None``) for a value that is present
but cannot be read, so "no date recorded" and "a date we cannot read" stay
different facts: the first may be a rule of the record class, the second is
always a data-quality failure that excludes the record from any action.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Final
from zoneinfo import ZoneInfo

__all__ = ["UNREADABLE", "Unreadable", "read_date", "read_bool", "DATE_FORMATS_ACCEPTED", "BOOL_FORMATS_ACCEPTED"]

_UK: Final = ZoneInfo("Europe/London")

DATE_FORMATS_ACCEPTED: Final = (
    "DATE / DATETIME / TIMESTAMP columns",
    "text YYYY-MM-DD",
    "text YYYY-MM-DD HH:MM[:SS[.ffffff]] (or T between), optional Z or +hh:mm",
)

_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
_ISO_DATETIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?$", re.ASCII
)
_TRUE: Final = frozenset({"1", "true", "t", "yes", "y"})
_FALSE: Final = frozenset({"0", "false", "f", "no", "n"})

BOOL_FORMATS_ACCEPTED: Final = (
    "BOOLEAN columns",
    "integers 0 and 1",
    "text " + " ".join(sorted(_TRUE | _FALSE, key=lambda t: (len(t), t))) + " (any case)",
)


class Unreadable:
    """A value that is present but cannot be read as its logical type."""

    _instance: "Unreadable | None" = None

    def __new__(cls) -> "Unreadable":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNREADABLE"

    def __bool__(self) -> bool:
        return False


UNREADABLE: Final = Unreadable()


def _from_datetime(value: datetime) -> date:
    if value.tzinfo is not None:
        value = value.astimezone(_UK)
    return value.date()


def _from_text(text: str) -> date | Unreadable:
    text = text.strip()
    match = _ISO_DATE.match(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            return UNREADABLE
    match = _ISO_DATETIME.match(text)
    if not match:
        return UNREADABLE
    try:
        parsed = datetime.fromisoformat(text.replace(" ", "T", 1).replace("Z", "+00:00"))
    except ValueError:
        return UNREADABLE
    return _from_datetime(parsed)


def read_date(value: object) -> date | None | Unreadable:
    """``None`` if nothing is recorded, a ``date``, or :data:`UNREADABLE`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return _from_datetime(value)
    if isinstance(value, date):
        return value
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            return UNREADABLE
    if isinstance(value, str):
        return _from_text(value)
    return UNREADABLE


def read_bool(value: object) -> bool | None | Unreadable:
    """``None`` if nothing is recorded, a ``bool``, or :data:`UNREADABLE`."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return {0: False, 1: True}.get(value, UNREADABLE)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    return UNREADABLE

"""Retention date arithmetic: when an N-year period that started on a date has run.

Decision (the stricter reading for records that must be kept): a period of N
years from ``start`` expires on its N-th anniversary, and a record is due *on*
that day. An anniversary of 29 February in a non-leap year falls on 1 March,
because the full N years have not elapsed by 28 February. So a case closed on
29 Feb 2020 under a 5-year rule is due on 1 Mar 2025, not 28 Feb 2025.

The comparison can be turned round: a record is due ``as_of`` iff
``start <= cutoff(as_of, N)``, one cutoff date per rule. Eligibility compares
in Python, on dates read by :func:`governance.stores.values.read_date`: a
stored date compared in SQL as text is wrong on SQLite (``'2021-06-30
00:00:00' > '2021-06-30'``). :func:`cutoff` and :func:`expiry` agree exactly
(tested exhaustively over every start date in two leap cycles).
"""

from __future__ import annotations

import calendar
from datetime import date

__all__ = ["expiry", "cutoff", "is_expired"]


def _is_leap(year: int) -> bool:
    return calendar.isleap(year)


def expiry(start: date, years: int) -> date:
    """The day an N-year period from ``start`` has run (29 Feb -> 1 Mar in a non-leap year)."""
    year = start.year + years
    if start.month == 2 and start.day == 29 and not _is_leap(year):
        return date(year, 3, 1)
    return start.replace(year=year)


def cutoff(as_of: date, years: int) -> date:
    """The latest start date whose N-year period has run on ``as_of``.

    ``start <= cutoff(as_of, N)`` iff ``expiry(start, N) <= as_of``.
    """
    year = as_of.year - years
    if as_of.month == 2 and as_of.day == 29 and not _is_leap(year):
        return date(year, 2, 28)
    return as_of.replace(year=year)


def is_expired(start: date, years: int, as_of: date) -> bool:
    return expiry(start, years) <= as_of

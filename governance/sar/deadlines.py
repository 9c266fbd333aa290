"""The statutory deadline of a subject access request (UK GDPR Art. 12(3), 12A).

The rules, from the ICO's "What should we consider when responding to a
request?" and domain.md:

- one calendar month, counted from the day the request is received (working
  day or not) to the corresponding date in the next month;
- if the next month has no such date, the last day of that month
  (31 January -> 28/29 February);
- if that day is a weekend or an England & Wales bank holiday, the next
  working day (bank holidays from the maintained ``holidays`` library);
- where identity (or an agent's authority) was asked for, the month counts
  from the day it was received (Art. 12A);
- while a needed clarification is awaited the clock stops: the days it took
  are added (Art. 12A, DUAA 2025 s.76; ICO "stopping the clock");
- an extension makes it three months from the same start, only if the
  requester was told, with reasons, within the first month, i.e. on or before
  the one-month deadline as calculated here. Told later, the extension does
  not count and the one-month deadline stands.

Pure functions of dates: nothing here reads the clock.
"""

from __future__ import annotations

import calendar
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from typing import Iterable

from governance.errors import ConfigError

__all__ = [
    "Deadline",
    "add_months",
    "is_working_day",
    "next_working_day",
    "bank_holidays",
    "calculate_deadline",
]


def add_months(start: date, months: int) -> date:
    """The corresponding date ``months`` later; the month's last day if it has none."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


@lru_cache(maxsize=64)
def _holidays_for(year: int) -> frozenset[date]:
    import holidays  # the maintained calendar of UK bank holidays

    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year))


def bank_holidays(year: int) -> frozenset[date]:
    """England & Wales bank holidays in ``year`` (including substitute days)."""
    return _holidays_for(year)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays_for(day.year)


def next_working_day(day: date) -> date:
    """``day`` itself if it is a working day, else the next one."""
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class Deadline:
    """A deadline and how it was reached (every step, for the register and the CLI)."""

    received: date
    clock_start: date
    one_month: date  # the corresponding date, before weekends and holidays
    paused_days: int
    one_month_deadline: date  # after pauses and the working-day roll
    extended_on: date | None
    extension_valid: bool | None
    extended_deadline: date | None
    deadline: date
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        data = asdict(self)
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()}


def _roll(day: date, notes: list[str], what: str) -> date:
    rolled = next_working_day(day)
    if rolled != day:
        reason = "a weekend" if day.weekday() >= 5 else "a bank holiday"
        notes.append(f"{what} {day.isoformat()} falls on {reason}: next working day {rolled.isoformat()}")
    return rolled


def calculate_deadline(
    received: date,
    *,
    id_received: date | None = None,
    extended_on: date | None = None,
    clarifications: Iterable[tuple[date, date]] = (),
) -> Deadline:
    """The deadline of a request received on ``received``.

    ``id_received``: when identity (or authority) asked for was received; the
    month counts from then. ``clarifications``: (asked, answered) pairs; the
    days between stop the clock. ``extended_on``: the day the requester was
    told of an extension.
    """
    notes: list[str] = []
    if id_received is not None and id_received < received:
        raise ConfigError(f"identity received {id_received.isoformat()} before the request {received.isoformat()}")
    if extended_on is not None and extended_on < received:
        raise ConfigError(f"extension notified {extended_on.isoformat()} before the request {received.isoformat()}")
    start = received
    if id_received is not None:
        start = id_received
        notes.append(f"identity requested: the month counts from its receipt on {start.isoformat()}")
    one_month = add_months(start, 1)
    if one_month.day != start.day:
        notes.append(f"no {start.day} in {one_month:%B %Y}: the last day of the month")

    paused = 0
    for asked, answered in clarifications:
        if answered < asked:
            raise ConfigError(f"clarification answered {answered.isoformat()} before it was asked {asked.isoformat()}")
        # Only days while the clock was running count (not before it started).
        days = (answered - max(asked, start)).days
        if days > 0:
            paused += days
    if paused:
        notes.append(f"clock stopped {paused} day(s) awaiting clarification")
    one_month_deadline = _roll(one_month + timedelta(days=paused), notes, "one month")

    valid: bool | None = None
    extended: date | None = None
    final = one_month_deadline
    if extended_on is not None:
        valid = extended_on <= one_month_deadline
        if valid:
            three = add_months(start, 3)
            extended = _roll(three + timedelta(days=paused), notes, "three months")
            final = extended
            notes.append(f"extension notified {extended_on.isoformat()}, within the first month: three months from the start")
        else:
            notes.append(
                f"extension notified {extended_on.isoformat()}, after the first month ended "
                f"{one_month_deadline.isoformat()}: it does not extend the deadline"
            )
    return Deadline(
        received=received,
        clock_start=start,
        one_month=one_month,
        paused_days=paused,
        one_month_deadline=one_month_deadline,
        extended_on=extended_on,
        extension_valid=valid,
        extended_deadline=extended,
        deadline=final,
        notes=notes,
    )

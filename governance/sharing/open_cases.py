"""Was a case open on a day? The one rule sharing uses, on dates read as every reader reads them.

A store keeps three dates per case (docs/case-store.md): ``opened_on``,
``closed_on`` and ``reopened_on``, and one closure date only. So what the row
says depends on the order of the last two:

* no reopening: open from ``opened_on`` to ``closed_on`` (both days included),
  or from ``opened_on`` on while no closure is recorded;
* reopened after the recorded closure (``closed_on < reopened_on``, or no
  closure): the closure is the *first* one; open to it, closed until the
  reopening, open again from ``reopened_on`` on;
* reopened before the recorded closure (``reopened_on <= closed_on``): the case
  was closed *again*, and ``closed_on`` is the second closure. It was open from
  the reopening to that closure. The first closure is no longer on the row, so
  no day before the reopening can be shown open: the first episode and the gap
  after it look the same.

A case whose status says ``closed`` while no closure after its last (re)opening
is recorded was closed again on a day nobody wrote down: from then on it is not
shown open. Every date is read by :func:`governance.stores.values.read_date`
(``DATE``, ``TIMESTAMP``, ISO text), never compared as text in SQL; a date that
cannot be read means the case cannot be shown open, and is reported as such.

Why "cannot be shown open" means "not open": an open statutory case lets social
care share without consent (:mod:`governance.sharing.decision`). Where the
record cannot show the duty existed, the answer falls back to what the family
agreed, or asks for a recorded override: the stricter reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa

from governance.stores.store import CaseStore
from governance.stores.values import UNREADABLE, read_date

__all__ = ["CaseDates", "open_on", "cases_open_on"]

_DATES = ("opened_on", "closed_on", "reopened_on")


@dataclass(frozen=True)
class CaseDates:
    """A case's dates as read (``None``: not recorded); ``unreadable`` names the fields that could not be read."""

    case_id: str
    opened_on: date | None
    closed_on: date | None
    reopened_on: date | None
    closed_status: bool = False
    unreadable: tuple[str, ...] = ()


def open_on(case: CaseDates, day: date) -> bool:
    """The case can be shown open on ``day`` (see the module docstring)."""
    opened, closed, reopened = case.opened_on, case.closed_on, case.reopened_on
    if case.unreadable or opened is None or day < opened:
        return False
    if reopened is not None and closed is not None and reopened <= closed:
        return reopened <= day <= closed  # closed again: only the reopened period is known
    first_episode = closed is not None and day <= closed
    # Open after the recorded closure (or with none) only if the row says it still is.
    open_since = reopened if reopened is not None else (None if closed is not None else opened)
    return first_episode or (open_since is not None and day >= open_since and not case.closed_status)


def _read(row: dict) -> CaseDates:
    values, bad = {}, []
    for name in _DATES:
        value = read_date(row.get(name))
        if value is UNREADABLE:
            bad.append(f"case.{name}")
            value = None
        values[name] = value
    return CaseDates(row["id"], closed_status=row.get("status") == "closed", unreadable=tuple(bad), **values)


def cases_open_on(store: CaseStore, conn: sa.Connection, condition: sa.ColumnElement[bool],
                  day: date) -> tuple[list[str], list[CaseDates]]:
    """(ids of the cases matching ``condition`` open on ``day``, those whose dates cannot be read).

    ``condition`` selects a handful of cases (one family's); the dates are read
    in Python because stores keep them as text as often as typed.
    """
    columns = [store.raw("case", "id").label("id")]
    # As the driver hands them over (text on SQLite), to be read by read_date, as retention reads them.
    columns += [sa.type_coerce(store.raw("case", f), sa.String()).label(f)
                for f in _DATES if store.has_field("case", f)]
    if store.has_field("case", "status"):
        columns.append(store.column("case", "status"))
    query = sa.select(*columns).where(condition).order_by(store.raw("case", "id"))
    cases = [_read(dict(row)) for row in conn.execute(query).mappings()]
    cases = [c for c in cases if c.case_id is not None]  # a row without an id cannot be named as the basis
    return [c.case_id for c in cases if open_on(c, day)], [c for c in cases if c.unreadable]

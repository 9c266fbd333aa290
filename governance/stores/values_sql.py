"""The reading rule of :mod:`governance.stores.values`, as SQL: which stored dates are unreadable.

Data quality runs as SQL (Great Expectations' ``UnexpectedRowsExpectation``),
so it cannot call :func:`~governance.stores.values.read_date`. This builds the
same test as a SQL condition, per dialect, so that a date retention cannot read
(and excludes as ``UNREADABLE_DATE``) is also a data-quality failure, and the
record is quarantined and reported rather than found by a sweep:

* a typed DATE / DATETIME / TIMESTAMP value is readable (PostgreSQL: by its
  type, ``pg_typeof``; SQLite has no such types, see below);
* text is readable when it has an ISO 8601 shape (``YYYY-MM-DD``, optionally
  followed by ``[T ]HH:MM[:SS[.fff]]`` and ``Z`` or ``+hh:mm``, surrounding
  spaces allowed) *and* its calendar date exists (no ``2021-02-30``, no
  ``0000-00-00``);
* anything else (``30/06/2021``, ``not a date``, the empty string, numbers
  stored in a date column on SQLite) is unreadable.

One difference is knowingly left: a time of day out of range (``25:00``) passes
here and is still unreadable to retention, which excludes the case; the check
errs towards keeping, never towards destroying.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["unreadable_date"]

# [0-9], not \d: PostgreSQL's \d can match other scripts' digits, which the integer casts would refuse.
_PG_ISO = r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?\s*$"
_SQLITE_DATE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
_SQLITE_TIME = "[ T][0-9][0-9]:[0-9][0-9]*"


def unreadable_date(value: sa.ColumnElement, dialect: str) -> sa.ColumnElement[bool]:
    """True where ``value`` is present but the platform cannot read it as a date."""
    if dialect == "sqlite":
        text = sa.func.trim(value)
        day = sa.func.substr(text, 1, 10)
        readable = sa.and_(
            sa.func.typeof(value) == "text",
            sa.or_(text.op("GLOB")(_SQLITE_DATE), text.op("GLOB")(_SQLITE_DATE + _SQLITE_TIME)),
            # With a modifier SQLite's date() rolls 2021-02-30 over to 2021-03-02 (and nulls 2021-13-01):
            # only a date that exists comes back unchanged. Year 0 exists for SQLite, not for Python.
            sa.func.coalesce(sa.func.date(day, "+0 days"), "") == day,
            sa.func.substr(day, 1, 4) != "0000",
        )
    elif dialect == "postgresql":
        typed = sa.func.pg_typeof(value).in_([sa.literal_column(f"'{t}'::regtype") for t in
                                              ("date", "timestamp without time zone", "timestamp with time zone")])
        text = sa.cast(value, sa.Text)
        y, m, d = (sa.cast(sa.func.substr(sa.func.btrim(text), start, length), sa.Integer)
                   for start, length in ((1, 4), (6, 2), (9, 2)))
        month_start = sa.func.make_date(y, m, 1)
        last_day = sa.extract("day", month_start + sa.text("interval '1 month'") - sa.text("interval '1 day'"))
        # CASE, so the integer casts and make_date only ever see text of the ISO shape.
        calendar_ok = sa.case((sa.and_(text.op("~")(_PG_ISO), y >= 1, m.between(1, 12)),
                               d.between(1, last_day)), else_=sa.false())
        readable = sa.or_(typed, calendar_ok)
    else:  # other databases: only what the driver hands over typed is trusted (nothing flagged in SQL)
        return sa.false()
    return sa.and_(value.is_not(None), sa.not_(readable))

"""The one rule for reading stored dates and booleans (governance.stores.values)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from governance.stores.values import UNREADABLE, read_bool, read_date


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, None),
        (date(2021, 6, 30), date(2021, 6, 30)),
        (datetime(2021, 6, 30, 0, 0), date(2021, 6, 30)),
        (datetime(2021, 6, 30, 23, 59, 59), date(2021, 6, 30)),
        # 23:30 UTC on 30 June is 00:30 BST on 1 July: the council's own date.
        (datetime(2021, 6, 30, 23, 30, tzinfo=timezone.utc), date(2021, 7, 1)),
        (datetime(2021, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))), date(2022, 1, 1)),
        ("2021-06-30", date(2021, 6, 30)),
        (" 2021-06-30 ", date(2021, 6, 30)),
        ("2021-06-30 00:00:00", date(2021, 6, 30)),
        ("2021-06-30T14:05", date(2021, 6, 30)),
        ("2021-06-30 14:05:06.123456", date(2021, 6, 30)),
        ("2021-06-30T23:30:00Z", date(2021, 7, 1)),
        ("2021-06-30T10:00:00+01:00", date(2021, 6, 30)),
        (b"2021-06-30", date(2021, 6, 30)),
        ("2020-02-29", date(2020, 2, 29)),
    ],
)
def test_readable_dates(raw: object, expected: date | None) -> None:
    assert read_date(raw) == expected


@pytest.mark.parametrize(
    "raw",
    ["30/06/2021", "06/30/2021", "0000-00-00", "0000-00-00 00:00:00", "not a date", "", "   ", "2021-02-30",
     "2021-13-01", "2021-6-30", "20210630", "2021-06-30 25:00", 20210630, 3.5, b"\xff\xfe", "２０２１-06-30"],
)
def test_unreadable_dates_are_unreadable_not_none(raw: object) -> None:
    value = read_date(raw)
    assert value is UNREADABLE
    assert not value  # falsy, but distinct from "nothing recorded"
    assert value is not None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, None), (True, True), (False, False), (1, True), (0, False), ("Y", True), (" no ", False),
     ("TRUE", True), ("f", False), (2, UNREADABLE), ("maybe", UNREADABLE), ("", UNREADABLE), (1.0, UNREADABLE)],
)
def test_booleans(raw: object, expected: object) -> None:
    assert read_bool(raw) is expected

"""Retention date arithmetic, including 29 February and the expiry day itself."""

from datetime import date, timedelta

import pytest

from governance.retention.dates import cutoff, expiry, is_expired


def test_expiry_day_itself_is_due_and_the_day_before_is_not():
    assert not is_expired(date(2020, 3, 15), 5, date(2025, 3, 14))
    assert is_expired(date(2020, 3, 15), 5, date(2025, 3, 15))


def test_29_february_expires_on_1_march_in_a_non_leap_year():
    assert expiry(date(2020, 2, 29), 5) == date(2025, 3, 1)
    assert not is_expired(date(2020, 2, 29), 5, date(2025, 2, 28))
    assert expiry(date(2020, 2, 29), 4) == date(2024, 2, 29)


@pytest.mark.parametrize("years", [1, 3, 4, 5, 6, 18, 35, 75, 100])
def test_cutoff_agrees_with_expiry_for_every_day_of_two_leap_cycles(years):
    starts = [date(1996, 1, 1) + timedelta(days=n) for n in range(366 * 8)]
    for as_of in (date(2100, 2, 28), date(2104, 2, 29), date(2103, 3, 1), date(2105, 3, 1), date(2030, 6, 30),
                  date(2024, 2, 29), date(2025, 2, 28), date(2025, 3, 1)):
        limit = cutoff(as_of, years)
        for start in starts:
            assert (start <= limit) == (expiry(start, years) <= as_of), (start, as_of, years)

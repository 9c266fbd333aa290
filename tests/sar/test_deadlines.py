"""The statutory deadline, on the ICO's own worked examples and the edge cases domain.md names."""

from __future__ import annotations

import json
from datetime import date

import pytest

from governance.cli import sar as sar_cli
from governance.errors import ConfigError
from governance.sar.deadlines import add_months, bank_holidays, calculate_deadline, next_working_day

D = date


@pytest.mark.parametrize(
    "received, due",
    [
        # ICO, "what should we consider when responding to a request": received 3 September, due 3 October.
        (D(2025, 9, 3), D(2025, 10, 3)),
        # The next month is shorter: the last day of it (ICO); 31 March -> 30 April.
        (D(2026, 3, 31), D(2026, 4, 30)),
        (D(2025, 3, 31), D(2025, 4, 30)),
        # End of month: 31 January -> 28 February in a common year...
        (D(2025, 1, 31), D(2025, 2, 28)),
        (D(2026, 8, 31), D(2026, 9, 30)),
        # ...and 29 February in a leap year.
        (D(2028, 1, 31), D(2028, 2, 29)),
        (D(2024, 1, 30), D(2024, 2, 29)),
        (D(2028, 2, 29), D(2028, 3, 29)),
        # The corresponding date is a Saturday: the next working day.
        (D(2026, 6, 11), D(2026, 7, 13)),
        # 28 February 2026 is a Saturday: end-of-month rule, then the weekend.
        (D(2026, 1, 31), D(2026, 3, 2)),
        # Received on a Saturday: the clock starts that day all the same.
        (D(2026, 9, 5), D(2026, 10, 5)),
        # Good Friday 3 April 2026, then Easter Monday: Tuesday 7 April.
        (D(2026, 3, 3), D(2026, 4, 7)),
        # Christmas Day (Friday), the weekend, Boxing Day substitute (Monday 28th): Tuesday 29 December.
        (D(2026, 11, 25), D(2026, 12, 29)),
        # Spring bank holiday (Monday 25 May 2026).
        (D(2026, 4, 25), D(2026, 5, 26)),
    ],
)
def test_one_calendar_month(received: date, due: date) -> None:
    assert calculate_deadline(received).deadline == due


def test_bank_holidays_are_england_and_wales() -> None:
    days = bank_holidays(2026)
    assert D(2026, 8, 31) in days  # late summer bank holiday (not Scotland's first Monday in August)
    assert D(2026, 8, 3) not in days
    assert D(2026, 12, 28) in days  # Boxing Day falls on a Saturday: substitute Monday
    assert next_working_day(D(2026, 12, 25)) == D(2026, 12, 29)


def test_add_months_clamps_to_the_month_end() -> None:
    assert add_months(D(2026, 1, 31), 1) == D(2026, 2, 28)
    assert add_months(D(2026, 11, 30), 3) == D(2027, 2, 28)
    assert add_months(D(2026, 12, 15), 1) == D(2027, 1, 15)


def test_identity_requested_counts_from_its_receipt() -> None:
    calc = calculate_deadline(D(2026, 3, 10), id_received=D(2026, 3, 20))
    assert (calc.clock_start, calc.deadline) == (D(2026, 3, 20), D(2026, 4, 20))
    # Identity on 30 April: 30 May is a Saturday, so Monday 1 June.
    assert calculate_deadline(D(2026, 3, 10), id_received=D(2026, 4, 30)).deadline == D(2026, 6, 1)


def test_clarification_stops_the_clock_for_the_days_it_took() -> None:
    # 10 days awaiting clarification: 1 July + 10 = Saturday 11 July -> Monday 13 July.
    calc = calculate_deadline(D(2026, 6, 1), clarifications=[(D(2026, 6, 5), D(2026, 6, 15))])
    assert (calc.paused_days, calc.deadline) == (10, D(2026, 7, 13))


def test_extension_notified_within_the_first_month_gives_three_months() -> None:
    # One month: Thursday 5 February. Told that day: three months = Sunday 5 April, Easter Monday -> 7 April.
    calc = calculate_deadline(D(2026, 1, 5), extended_on=D(2026, 2, 5))
    assert calc.extension_valid is True
    assert (calc.one_month_deadline, calc.deadline) == (D(2026, 2, 5), D(2026, 4, 7))
    # The first month ends on the working day the one-month deadline rolled to.
    assert calculate_deadline(D(2026, 1, 31), extended_on=D(2026, 3, 2)).deadline == D(2026, 4, 30)
    # With identity awaited, three months from its receipt: 20 June is a Saturday.
    assert calculate_deadline(D(2026, 3, 10), id_received=D(2026, 3, 20), extended_on=D(2026, 4, 15)).deadline == D(2026, 6, 22)


def test_extension_notified_too_late_does_not_count() -> None:
    calc = calculate_deadline(D(2026, 1, 5), extended_on=D(2026, 2, 6))
    assert calc.extension_valid is False
    assert calc.deadline == D(2026, 2, 5)
    assert any("does not extend" in note for note in calc.notes)


def test_impossible_dates_are_refused() -> None:
    with pytest.raises(ConfigError):
        calculate_deadline(D(2026, 3, 10), id_received=D(2026, 3, 1))
    with pytest.raises(ConfigError):
        calculate_deadline(D(2026, 3, 10), extended_on=D(2026, 3, 1))


def _cli(argv, capsys):
    import argparse

    parser = argparse.ArgumentParser(prog="governance")
    sar_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    code = args.handler(args)
    return code, capsys.readouterr().out


def test_cli_prints_the_calculation_as_json(capsys) -> None:
    code, out = _cli(["sar", "deadline", "--received", "2026-01-31", "--json"], capsys)
    result = json.loads(out)
    assert code == 0 and result["deadline"] == "2026-03-02"
    assert result["one_month"] == "2026-02-28"
    code, out = _cli(["sar", "deadline", "--received", "2026-03-10", "--id-received", "2026-03-20",
                      "--extended-on", "2026-04-15", "--json"], capsys)
    assert json.loads(out)["deadline"] == "2026-06-22"
    code, out = _cli(["sar", "deadline", "--received", "2026-06-01", "--clarification", "2026-06-05:2026-06-15",
                      "--json"], capsys)
    assert json.loads(out)["deadline"] == "2026-07-13"

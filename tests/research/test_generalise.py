"""Generalisation rules, known answers: birthdays, leap days, postcodes that are not, coarsening."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from governance.research.catalogue import FIELDS, Kind
from governance.research.generalise import (
    Rule, age_bands, coarsen, month_of, parse_rule, postcode_area, postcode_district, year_of,
)


def _ages(dobs, as_of, width=5, top=90):
    return age_bands(pa.array(dobs, pa.date32()), as_of, width, top).to_pylist()


def test_age_bands_count_completed_years_on_the_explicit_date() -> None:
    as_of = date(2026, 6, 30)
    assert _ages([date(2021, 6, 30), date(2021, 7, 1), date(2016, 6, 30), date(2016, 7, 1)], as_of) == [
        "5-9", "0-4", "10-14", "5-9"]


def test_a_leap_day_birthday_is_reached_on_1_march_in_common_years() -> None:
    dob = [date(2016, 2, 29)]
    assert _ages(dob, date(2021, 2, 28), width=1) == ["4-4"]
    assert _ages(dob, date(2021, 3, 1), width=1) == ["5-5"]
    assert _ages(dob, date(2024, 2, 29), width=1) == ["8-8"]


def test_top_coding_unknown_and_future_births() -> None:
    as_of = date(2026, 6, 30)
    assert _ages([date(1900, 1, 1), None, date(2027, 1, 1), date(2008, 1, 1)], as_of, width=10, top=18) == [
        "18+", None, None, "18+"]
    assert _ages([date(2009, 1, 1)], as_of, width=10, top=18) == ["10-17"]  # the band stops below the top


def test_postcodes_become_districts_or_areas_and_anything_else_null() -> None:
    raw = pa.array(["QA1 2AB", "xl12 3zz", "VN93BD", " QE19 4XY ", "QA1", "not a postcode", "", None, "QA1 2AB EXTRA"])
    assert postcode_district(raw).to_pylist() == ["QA1", "XL12", "VN9", "QE19", None, None, None, None, None]
    assert postcode_area(raw).to_pylist() == ["QA", "XL", "VN", "QE", None, None, None, None, None]


def test_dates_become_months_or_years() -> None:
    days = pa.array([date(2019, 3, 7), date(2020, 12, 31), None], pa.date32())
    assert month_of(days).to_pylist() == ["2019-03", "2020-12", None]
    assert year_of(days).to_pylist() == ["2019", "2020", None]


def test_coarsening_climbs_each_ladder_to_dropping_the_column() -> None:
    age = parse_rule(FIELDS["date_of_birth"], "age_band:5:90")
    ladder = []
    rule: Rule | None = age
    while rule is not None:
        ladder.append(rule.text)
        rule = rule.coarser()
    assert ladder == ["age_band:5:90", "age_band:10:90", "age_band:20:90", "age_band:40:90", "age_band:80:90"]
    postcode = parse_rule(FIELDS["postcode"], "district")
    assert postcode.coarser().text == "area" and postcode.coarser().coarser() is None
    month = parse_rule(FIELDS["opened_on"], "month")
    assert month.coarser().text == "year" and month.coarser().coarser() is None


def test_coarsening_labels_matches_generalising_from_scratch() -> None:
    dobs = pa.array([date(2000 + i % 25, 1 + i % 12, 1 + i % 28) for i in range(300)], pa.date32())
    as_of = date(2026, 6, 30)
    five = Rule(Kind.BIRTH_DATE, "age_band", 5, 18)
    ten = Rule(Kind.BIRTH_DATE, "age_band", 10, 18)
    assert coarsen(age_bands(dobs, as_of, 5, 18), five, ten).to_pylist() == age_bands(dobs, as_of, 10, 18).to_pylist()
    codes = pa.array(["QA1 2AB", "QA12 3CD", "XL4 5EF", None])
    assert coarsen(postcode_district(codes), Rule(Kind.POSTCODE, "district"),
                   Rule(Kind.POSTCODE, "area")).to_pylist() == postcode_area(codes).to_pylist()
    days = pa.array([date(2019, 3, 7), None], pa.date32())
    assert coarsen(month_of(days), Rule(Kind.DATE, "month"), Rule(Kind.DATE, "year")).to_pylist() == ["2019", None]


def test_a_rule_must_fit_its_field() -> None:
    from governance.research.errors import SpecError

    with pytest.raises(SpecError):
        parse_rule(FIELDS["postcode"], "month")
    with pytest.raises(SpecError):
        parse_rule(FIELDS["date_of_birth"], "age_band:20:10")

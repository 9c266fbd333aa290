"""The anonymiser on known input: small cells and homogeneous classes go, levels climb only as needed."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from governance.research.anonymise import Anonymiser
from governance.research.spec import parse_spec
from tests.research.conftest import spec_dict


def _spec(**extract):
    return parse_spec(spec_dict(extract={"fields": ["person_id", "date_of_birth", "case_type", "opened_on",
                                                    "casenote_count"],
                                         "generalise": {"date_of_birth": "age_band:5:20"}, **extract})).extract


def _rows(spec_rows):
    rows, n = [], 0
    for band, case_type, month, people in spec_rows:
        for _ in range(people):
            rows.append({"person_pseudonym": f"{n:032x}", "age_band": band, "case_type": case_type,
                         "opened_month": month, "casenote_count": 2})
            n += 1
    return pa.Table.from_pylist(rows)


def test_level_zero_when_little_is_suppressed_small_cells_dropped() -> None:
    table = _rows([("0-4", "eh", "2020-01", 30), ("0-4", "cp", "2020-01", 30), ("0-4", "cin", "2020-01", 1),
                   ("5-9", "eh", "2020-01", 30), ("5-9", "cp", "2020-01", 30)])
    output = Anonymiser(_spec(k=10, max_suppression=0.05)).run([table.slice(0, 50), table.slice(50)])
    assert output.level == 0
    assert output.table.column_names == ["age_band", "case_type", "opened_month", "persons", "rows",
                                         "casenote_count_total"]
    assert output.table.num_rows == 4 and pc.min(output.table["persons"]).as_py() == 30
    assert output.stats["person_cells_suppressed"] == 1
    assert output.table["casenote_count_total"].to_pylist() == [60, 60, 60, 60]


def test_levels_climb_dates_first_until_suppression_is_acceptable() -> None:
    # Spread over months, every cell is small; by year they are large enough.
    spread = [("0-4", t, f"2020-{m:02d}", 3) for t in ("eh", "cp") for m in range(1, 13)]
    output = Anonymiser(_spec(k=10)).run([_rows(spread)])
    assert output.level == 1 and "opened_year" in output.table.column_names and "age_band" in output.table.column_names
    assert output.stats["person_cells_suppressed"] == 0


def test_a_homogeneous_class_is_suppressed_whole() -> None:
    table = _rows([("0-4", "eh", "2020-01", 20), ("0-4", "cp", "2020-01", 20), ("5-9", "eh", "2020-01", 20)])
    output = Anonymiser(_spec(k=10, max_suppression=0.5)).run([table])
    assert output.table["age_band"].to_pylist() == ["0-4", "0-4"]  # 5-9 shows one case type only: gone

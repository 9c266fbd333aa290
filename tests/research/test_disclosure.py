"""Disclosure control on known inputs: distinct persons across batches, k, l, small cells, no values."""

from __future__ import annotations

import json
import random

import pyarrow as pa
import pytest

from governance.research.disclosure import DisclosureCheck, GroupCounter, suppress_small_cells
from governance.research.errors import ResearchError


def _rows(n_people: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for person in range(n_people):
        for _ in range(rng.choice((1, 1, 2, 3))):  # several rows (episodes) per person
            rows.append({"p": f"p{person:05d}", "band": rng.choice(["0-4", "5-9", "10-14"]),
                         "area": rng.choice(["QA", "XL"]), "type": rng.choice(["eh", "cin", "cp"])})
    return rows


def _batches(rows: list[dict], size: int) -> list[pa.Table]:
    return [pa.Table.from_pylist(rows[i:i + size]) for i in range(0, len(rows), size)]


@pytest.mark.parametrize("batch", [1, 2, 7, 100, 10_000])
def test_distinct_persons_per_class_are_exact_whatever_the_batch_boundaries(batch: int) -> None:
    rows = _rows(400)
    counter = GroupCounter(["band", "area"], "p")
    for table in _batches(rows, batch):
        counter.add(table)
    result = counter.result().to_pylist()
    expected: dict[tuple, set] = {}
    for r in rows:
        expected.setdefault((r["band"], r["area"]), set()).add(r["p"])
    assert {(r["band"], r["area"]): r["persons"] for r in result} == {k: len(v) for k, v in expected.items()}
    assert sum(r["rows"] for r in result) == len(rows)


def test_rows_not_grouped_by_person_are_refused() -> None:
    counter = GroupCounter(["band"], "p")
    with pytest.raises(ResearchError, match="not grouped by person"):
        counter.add(pa.table({"p": ["a", "b", "a"], "band": ["x", "x", "x"]}))


def test_k_and_l_failures_are_reported_by_ordinal_and_counts_only() -> None:
    rows = [{"p": f"p{i}", "band": "0-4", "type": ["eh", "cp"][i % 2]} for i in range(12)]  # class 1: 12, diverse
    rows += [{"p": f"q{i}", "band": "5-9", "type": "eh"} for i in range(11)]  # class 2: 11, homogeneous
    rows += [{"p": f"r{i}", "band": "CANARY-BAND", "type": "cp"} for i in range(3)]  # class 3: too small
    check = DisclosureCheck(["band"], ["type"], "p", k=10, l=2)
    for table in _batches(rows, 5):
        check.add(table)
    report = check.report()
    assert not report.passed
    out = report.to_dict()
    assert out["classes"] == 3 and out["persons"] == 26 and out["smallest_class"] == 3
    assert out["k_failures"] == [{"class": 3, "persons": 3, "rows": 3}]
    assert out["k_failing_sizes"] == {"3": 1}
    assert out["l_failures"] == {"type": [{"class": 2, "distinct": 1}, {"class": 3, "distinct": 1}]}
    text = json.dumps(out)
    assert "CANARY" not in text and "5-9" not in text and "eh" not in text


def test_a_large_enough_diverse_cohort_passes() -> None:
    check = DisclosureCheck(["band"], ["type"], "p", k=10, l=2)
    check.add(pa.Table.from_pylist([{"p": f"p{i:03d}", "band": "0-4", "type": ["eh", "cp"][i % 2]} for i in range(20)]))
    assert check.report().passed


def test_an_empty_extract_is_not_released() -> None:
    check = DisclosureCheck(["band"], [], "p", k=10, l=1)
    assert not check.report().passed and check.report().to_dict()["empty"]


def test_small_cells_are_dropped_and_only_counted() -> None:
    table = pa.table({"type": ["eh", "cp", "cin"], "persons": [25, 3, 10]})
    kept, stats = suppress_small_cells(table, 10)
    assert kept.column("type").to_pylist() == ["eh", "cin"]
    assert stats == {"cells": 2, "suppressed_cells": 1, "suppressed_persons": 3, "min_cell": 10}


def test_aggregate_tables_suppress_small_cells() -> None:
    rows = [{"p": f"p{i:03d}", "band": "0-4", "type": "eh" if i < 15 else "cp"} for i in range(18)]
    check = DisclosureCheck(["band"], [], "p", k=10, l=1, tables={"by_type": (["type"], 10)})
    check.add(pa.Table.from_pylist(rows))
    assert check.table("by_type").to_pylist() == [{"type": "eh", "persons": 15, "rows": 15}]
    assert check.report().tables["by_type"]["suppressed_cells"] == 1

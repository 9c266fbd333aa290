"""Disclosure control before release: k-anonymity, l-diversity, small-cell suppression.

Computed set-based while the extract streams past, in memory bounded by the
number of *equivalence classes* (distinct combinations of generalised
quasi-identifiers), not by the number of rows:

- **k-anonymity** counts distinct *persons* per class (a child with three
  episodes is one person, not three rows). Rows arrive grouped by person (the
  source orders by person id), so each batch's distinct (class, person) pairs
  are counted with an Arrow group-by, and only the person straddling a batch
  boundary needs remembering. A batch whose persons are not contiguous is
  refused rather than silently overcounted.
- **l-diversity** (distinct): every class must hold at least ``l`` distinct
  non-null values of each sensitive attribute.
- **Aggregate tables**: persons per cell; cells under the threshold are
  dropped from the table (so "small" and "none" look alike) and only counted.

Reports name failing classes by ordinal and counts, never by their values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from governance.research.errors import ResearchError

__all__ = ["GroupCounter", "DistinctValues", "DisclosureCheck", "DisclosureReport", "suppress_small_cells",
           "LISTED_CLASSES"]

_ALL = "__all__"
#: At most this many failing classes are listed individually in a report (all are counted).
LISTED_CLASSES = 50
_COMPACT_EVERY = 16


def _keyed(table: pa.Table, keys: Sequence[str]) -> tuple[pa.Table, list[str]]:
    """Group-by needs at least one key: an empty key list becomes one constant column."""
    if keys:
        return table, list(keys)
    return table.append_column(_ALL, pa.repeat(pa.scalar(True), table.num_rows)), [_ALL]


class GroupCounter:
    """Distinct persons and rows per group, over batches whose persons arrive contiguously."""

    def __init__(self, keys: Sequence[str], person: str) -> None:
        self.keys = list(keys)
        self.person = person
        self._partials: list[pa.Table] = []
        self._last: Any = None
        self._last_groups: set[tuple] = set()

    def add(self, batch: pa.Table) -> None:
        if batch.num_rows == 0:
            return
        table, keys = _keyed(batch.select([*self.keys, self.person]), self.keys)
        people = table[self.person]
        runs = 1 + pc.sum(pc.not_equal(people[1:], people[:-1])).as_py() if table.num_rows > 1 else 1
        if runs != pc.count_distinct(people, mode="all").as_py():
            raise ResearchError("extract rows are not grouped by person: disclosure counts would be wrong")
        pairs = table.group_by([*keys, self.person], use_threads=False).aggregate([([], "count_all")])
        new = np.ones(pairs.num_rows, dtype=np.int64)
        first, last = people[0].as_py(), people[-1].as_py()
        if first == self._last:  # the boundary person: classes already counted for them are not new
            for index in np.flatnonzero(pc.equal(pairs[self.person], first).to_numpy(zero_copy_only=False)):
                if tuple(pairs[k][index].as_py() for k in keys) in self._last_groups:
                    new[index] = 0
        groups = {tuple(pairs[k][i].as_py() for k in keys)
                  for i in np.flatnonzero(pc.equal(pairs[self.person], last).to_numpy(zero_copy_only=False))}
        self._last_groups = (self._last_groups | groups) if last == self._last else groups
        self._last = last
        pairs = pairs.append_column("_new", pa.array(new))
        self._partials.append(pairs.group_by(keys, use_threads=False).aggregate([("_new", "sum"), ("count_all", "sum")])
                              .rename_columns([*keys, "persons", "rows"]))
        if len(self._partials) >= _COMPACT_EVERY:
            self._partials = [self._combine()]

    def _combine(self) -> pa.Table:
        keys = self.keys or [_ALL]
        merged = pa.concat_tables(self._partials)
        return (merged.group_by(keys, use_threads=False).aggregate([("persons", "sum"), ("rows", "sum")])
                .rename_columns([*keys, "persons", "rows"]))

    def result(self) -> pa.Table:
        """One row per group: the key columns (sorted), ``persons`` and ``rows``."""
        keys = self.keys or [_ALL]
        if not self._partials:
            return pa.table({**{k: pa.array([], pa.string()) for k in keys}, "persons": pa.array([], pa.int64()),
                             "rows": pa.array([], pa.int64())})
        combined = self._combine()
        self._partials = [combined]
        return combined.sort_by([(k, "ascending") for k in keys])


class DistinctValues:
    """Distinct non-null values of one attribute per group (for l-diversity)."""

    def __init__(self, keys: Sequence[str], attribute: str) -> None:
        self.keys, self.attribute = list(keys), attribute
        self._partials: list[pa.Table] = []

    def add(self, batch: pa.Table) -> None:
        table, keys = _keyed(batch.select([*self.keys, self.attribute]), self.keys)
        self._partials.append(table.group_by([*keys, self.attribute], use_threads=False).aggregate([]))
        if len(self._partials) >= _COMPACT_EVERY:
            self._partials = [self._unique()]

    def _unique(self) -> pa.Table:
        keys = self.keys or [_ALL]
        return pa.concat_tables(self._partials).group_by([*keys, self.attribute], use_threads=False).aggregate([])

    def result(self) -> dict[tuple, int]:
        if not self._partials:
            return {}
        keys = self.keys or [_ALL]
        counted = self._unique().group_by(keys, use_threads=False).aggregate(
            [(self.attribute, "count", pc.CountOptions(mode="only_valid"))])
        columns = [counted[k].to_pylist() for k in keys]
        return dict(zip(zip(*columns), counted[f"{self.attribute}_count"].to_pylist()))


@dataclass
class DisclosureReport:
    """Counts only: how many classes, persons, rows; which classes fail, by ordinal and size."""

    k: int
    l: int
    rows: int = 0
    persons: int = 0
    classes: int = 0
    smallest_class: int = 0
    k_failures: list[dict[str, int]] = field(default_factory=list)
    l_failures: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.rows > 0 and not self.k_failures and not any(self.l_failures.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed, "k": self.k, "l": self.l, "rows": self.rows, "persons": self.persons,
            "classes": self.classes, "smallest_class": self.smallest_class,
            "k_failing_classes": len(self.k_failures),
            "k_failing_persons": sum(f["persons"] for f in self.k_failures),
            "k_failing_sizes": {str(s): n for s, n in sorted(Counter(f["persons"] for f in self.k_failures).items())},
            "k_failures": self.k_failures[:LISTED_CLASSES],
            "l_failing_classes": {a: len(f) for a, f in self.l_failures.items()},
            "l_failures": {a: f[:LISTED_CLASSES] for a, f in self.l_failures.items()},
            "tables": self.tables, "empty": self.rows == 0,
        }


class DisclosureCheck:
    """Accumulates everything the release decision needs while batches stream past."""

    def __init__(self, quasi: Sequence[str], sensitive: Sequence[str], person: str, *, k: int, l: int,
                 tables: dict[str, tuple[Sequence[str], int]] | None = None) -> None:
        self.quasi, self.k, self.l = list(quasi), k, l
        self._classes = GroupCounter(quasi, person)
        self._people = GroupCounter([], person)
        self._diversity = {s: DistinctValues(quasi, s) for s in sensitive} if l > 1 else {}
        self._tables = {name: (GroupCounter(by, person), threshold) for name, (by, threshold) in (tables or {}).items()}

    def add(self, batch: pa.Table) -> None:
        self._classes.add(batch)
        self._people.add(batch)
        for counter in self._diversity.values():
            counter.add(batch)
        for counter, _ in self._tables.values():
            counter.add(batch)

    def table(self, name: str) -> pa.Table:
        """Aggregate table ``name`` with small cells suppressed."""
        counter, threshold = self._tables[name]
        return suppress_small_cells(counter.result(), threshold)[0]

    def report(self) -> DisclosureReport:
        classes = self._classes.result()
        persons, rows = classes["persons"].to_pylist(), classes["rows"].to_pylist()
        report = DisclosureReport(k=self.k, l=self.l, rows=sum(rows), classes=len(persons),
                                  smallest_class=min(persons, default=0))
        people = self._people.result()["persons"].to_pylist()
        report.persons = people[0] if people else 0
        report.k_failures = [{"class": i + 1, "persons": p, "rows": r}
                             for i, (p, r) in enumerate(zip(persons, rows)) if p < self.k]
        keys = self.quasi or [_ALL]
        ordinal = {key: i + 1 for i, key in enumerate(zip(*(classes[k].to_pylist() for k in keys)))}
        for attribute, counter in self._diversity.items():
            distinct = counter.result()
            report.l_failures[attribute] = sorted(
                ({"class": ordinal[key], "distinct": distinct.get(key, 0)}
                 for key in ordinal if distinct.get(key, 0) < self.l), key=lambda f: f["class"])
        for name, (counter, threshold) in self._tables.items():
            _, stats = suppress_small_cells(counter.result(), threshold)
            report.tables[name] = stats
        return report


def suppress_small_cells(table: pa.Table, threshold: int, count: str = "persons") -> tuple[pa.Table, dict[str, int]]:
    """Drop cells counting fewer than ``threshold``; return the table and how many cells/persons went."""
    small = pc.less(table[count], threshold)
    kept = table.filter(pc.invert(small))
    removed = table.filter(small)
    return kept, {"cells": kept.num_rows, "suppressed_cells": removed.num_rows,
                  "suppressed_persons": int(pc.sum(removed[count]).as_py() or 0), "min_cell": threshold}

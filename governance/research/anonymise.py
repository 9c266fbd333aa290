"""The anonymised replacement of an extract: an aggregate that passes k and holds no pseudonyms.

At the end of a study whose end action is *anonymise*, the extract is read
once (decrypted part by part) and aggregated at several generalisation
*levels* at the same time:

- pseudonyms are dropped (the person pseudonym is used only to count distinct
  persons, then discarded);
- level 0 keeps the extract's own generalisation; each further level takes one
  more step up one column's ladder (month to year to dropped, district to area
  to dropped, bands twice as wide then dropped), dates first, then postcodes,
  then age bands; categories, flags and kept text are dimensions; counts are summed;
- each cell (combination of dimensions) counts distinct persons; cells under
  ``k`` persons are suppressed (dropped); then any quasi-identifier class whose
  surviving cells show fewer than ``l`` distinct values of a sensitive
  attribute is suppressed whole (homogeneity).

The least-coarsened level that suppresses at most ``max_suppression`` of the
persons is chosen (the coarsest otherwise). Every published cell then holds
at least ``k`` persons, so every quasi-identifier class does too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc

from governance.research.catalogue import FIELDS, Kind
from governance.research.disclosure import DistinctValues, GroupCounter, suppress_small_cells
from governance.research.generalise import Rule, coarsen
from governance.research.pipeline import PERSON_COLUMN
from governance.research.spec import ExtractSpec

__all__ = ["Anonymiser", "AnonymisedOutput"]

_LADDER = (Kind.BIRTH_DATE, Kind.POSTCODE, Kind.DATE)
_ALL = "__all__"


@dataclass(frozen=True)
class AnonymisedOutput:
    table: pa.Table
    level: int
    stats: dict[str, Any]


class _Level:
    """One candidate generalisation level: its columns and its accumulators."""

    def __init__(self, level: int, steps: dict[str, int], spec: ExtractSpec) -> None:
        self.level = level
        self.mapping: list[tuple[str, Rule, Rule, str]] = []  # (extract column, from rule, to rule, output column)
        self.dims: list[str] = []
        self.quasi: list[str] = []
        self.sensitive: list[str] = []
        self.counts: list[str] = []
        for field in spec.output_fields():
            kind, rule = FIELDS[field].kind, spec.rules[field]
            column = rule.output_name(FIELDS[field])
            if kind is Kind.IDENTIFIER:
                continue
            if kind is Kind.COUNT:
                self.counts.append(column)
                continue
            target: Rule | None = rule
            for _ in range(steps.get(field, 0)):
                target = target.coarser() if target is not None else None
            if target is None:
                continue  # generalised away entirely at this level
            name = target.output_name(FIELDS[field])
            self.mapping.append((column, rule, target, name))
            self.dims.append(name)
            if field in spec.quasi_identifiers:
                self.quasi.append(name)
            if field in spec.sensitive:
                self.sensitive.append(name)
        self._keys = self.dims or [_ALL]
        self.cells = GroupCounter(self._keys, PERSON_COLUMN)
        self.sums: list[pa.Table] = []

    def add(self, batch: pa.Table) -> None:
        arrays = {name: coarsen(batch[column], source, target) for column, source, target, name in self.mapping}
        if not self.dims:
            arrays[_ALL] = pa.repeat(pa.scalar(True), batch.num_rows)
        arrays[PERSON_COLUMN] = batch[PERSON_COLUMN]
        for column in self.counts:
            arrays[column] = batch[column]
        table = pa.table(arrays)
        self.cells.add(table)
        if self.counts:
            self.sums.append(table.group_by(self._keys, use_threads=False).aggregate([(c, "sum") for c in self.counts])
                             .rename_columns([*self._keys, *self.counts]))
            if len(self.sums) >= 16:
                self.sums = [pa.concat_tables(self.sums).group_by(self._keys, use_threads=False).aggregate(
                    [(c, "sum") for c in self.counts]).rename_columns([*self._keys, *self.counts])]

    def _homogeneous_classes_removed(self, kept: pa.Table, l: int) -> pa.Table:
        """Suppress every quasi-identifier class whose cells show fewer than ``l`` values of a sensitive attribute."""
        for attribute in self.sensitive:
            if kept.num_rows == 0:
                break
            if not self.quasi:
                if pc.count_distinct(kept[attribute]).as_py() < l:
                    kept = kept.slice(0, 0)
                continue
            distinct = DistinctValues(self.quasi, attribute)
            distinct.add(kept)
            diverse = distinct.result()
            keys = zip(*(kept[q].to_pylist() for q in self.quasi))
            kept = kept.filter(pa.array([diverse.get(key, 0) >= l for key in keys], pa.bool_()))
        return kept

    def result(self, k: int, l: int) -> tuple[pa.Table, dict[str, Any]]:
        cells = self.cells.result()  # sorted by its keys
        if self.sums:
            # Same groups on both sides (a group exists iff a row has it), sorted the same way:
            # aligned row by row. (A join would not match groups whose key holds a null.)
            sums = pa.concat_tables(self.sums).group_by(self._keys, use_threads=False).aggregate(
                [(c, "sum") for c in self.counts]).sort_by([(key, "ascending") for key in self._keys])
            for column in self.counts:
                cells = cells.append_column(f"{column}_total", sums[f"{column}_sum"])
        total = int(pc.sum(cells["persons"]).as_py() or 0)
        kept, _ = suppress_small_cells(cells, k)
        if l > 1:
            kept = self._homogeneous_classes_removed(kept, l)
        if not self.dims:
            kept = kept.drop_columns([_ALL])
        published = int(pc.sum(kept["persons"]).as_py() or 0)
        # Person-cells: a person in two cells (two episodes) counts in both.
        stats = {"level": self.level, "cells": kept.num_rows, "person_cells": total,
                 "person_cells_published": published, "person_cells_suppressed": total - published,
                 "suppressed_share_ppm": round(1_000_000 * (total - published) / total) if total else 0}
        order = [(d, "ascending") for d in self.dims]
        return (kept.sort_by(order) if order else kept), stats


class Anonymiser:
    """Aggregates an extract at every level at once, then picks the least coarse acceptable one."""

    def __init__(self, spec: ExtractSpec) -> None:
        self.spec = spec
        # The path up the ladder, one column one step at a time: dates first (they
        # fragment cells most and matter least), then postcodes, then age bands.
        steps: dict[str, int] = {}
        self._levels = [_Level(0, {}, spec)]
        for kind in (Kind.DATE, Kind.POSTCODE, Kind.BIRTH_DATE):
            for field in (f for f in spec.output_fields() if FIELDS[f].kind is kind):
                rule: Rule | None = spec.rules[field]
                while rule is not None:
                    rule = rule.coarser()
                    steps[field] = steps.get(field, 0) + 1
                    self._levels.append(_Level(len(self._levels), dict(steps), spec))

    def add(self, batch: pa.Table | pa.RecordBatch) -> None:
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        for level in self._levels:
            level.add(table)

    def run(self, batches: Iterable[pa.Table | pa.RecordBatch]) -> AnonymisedOutput:
        for batch in batches:
            self.add(batch)
        return self.result()

    def result(self) -> AnonymisedOutput:
        chosen: tuple[pa.Table, dict[str, Any]] | None = None
        for level in self._levels:
            chosen = level.result(self.spec.k, self.spec.l)
            if chosen[1]["suppressed_share_ppm"] <= self.spec.max_suppression * 1_000_000:
                break
        assert chosen is not None
        table, stats = chosen
        return AnonymisedOutput(table, stats["level"], {**stats, "k": self.spec.k, "l": self.spec.l,
                                                        "levels_considered": len(self._levels)})

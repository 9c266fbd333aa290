"""One batch in, one extract batch out: pseudonymise identifiers, generalise the rest.

:class:`ExtractPipeline` is the per-batch transformation, free of storage and
databases, so the build (:mod:`governance.research.extracts`) and the benchmark
run exactly the same code. It also names the output columns the disclosure
check works on: the person pseudonym (the unit), the quasi-identifiers, the
sensitive attributes and the aggregate tables' dimensions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from governance.research.catalogue import FIELDS, Kind
from governance.research.disclosure import DisclosureCheck
from governance.research.generalise import Rule, generalise, output_type
from governance.research.pseudonym import Pseudonymiser
from governance.research.spec import ExtractSpec

__all__ = ["ExtractPipeline", "OutputColumn", "PERSON_COLUMN"]

PERSON_COLUMN = "person_pseudonym"
_ENTITY = {"person_id": "person", "family_id": "family", "case_id": "case"}


@dataclass(frozen=True)
class OutputColumn:
    field: str
    rule: Rule
    name: str
    type: pa.DataType


class ExtractPipeline:
    """The transformation of one study's extract (``age_as_of`` is the explicit date for age bands)."""

    def __init__(self, spec: ExtractSpec, pseudonymiser: Pseudonymiser, age_as_of: date) -> None:
        self.spec = spec
        self.age_as_of = age_as_of
        self._pseudonymiser = pseudonymiser
        self.columns = [
            OutputColumn(f, spec.rules[f], spec.rules[f].output_name(FIELDS[f]), output_type(FIELDS[f].kind))
            for f in spec.output_fields()
        ]
        self._by_field = {c.field: c.name for c in self.columns}
        rules = {c.name: c.rule.text for c in self.columns}
        self.schema = pa.schema([(c.name, c.type) for c in self.columns],
                                metadata={"governance.rules": json.dumps(rules, sort_keys=True),
                                          "governance.age_as_of": age_as_of.isoformat()})

    def names(self, fields) -> list[str]:
        return [self._by_field[f] for f in fields]

    @property
    def quasi(self) -> list[str]:
        return self.names(self.spec.quasi_identifiers)

    @property
    def sensitive(self) -> list[str]:
        return self.names(self.spec.sensitive)

    def transform(self, raw: pa.Table) -> pa.Table:
        """Raw population columns (named by field) to extract columns (named by output)."""
        arrays = []
        for column in self.columns:
            values = raw[column.field]
            if column.rule.kind is Kind.IDENTIFIER:
                arrays.append(self._pseudonymiser.column(_ENTITY[column.field], values))
            else:
                arrays.append(generalise(column.rule, values, self.age_as_of))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def disclosure_check(self) -> DisclosureCheck:
        """A fresh check for this extract's k, l, quasi-identifiers, sensitive attributes and tables."""
        tables = {t.name: (self.names(t.by), t.min_cell) for t in self.spec.tables}
        return DisclosureCheck(self.quasi, self.sensitive, PERSON_COLUMN, k=self.spec.k, l=self.spec.l, tables=tables)

"""Generalisation rules for quasi-identifiers, applied to whole Arrow columns at once.

Why vectorised: an extract can hold millions of rows, and a Python loop per
value would dominate the run. Every function here takes and returns a
``pyarrow`` array and runs in Arrow's compute kernels; where a mapping is
easier in Python (coarsening labels), it is applied to the column's *distinct*
values only and spread back with ``take``.

Rules (see :mod:`governance.research.catalogue` for which kind takes which):

- ``age_band:W[:TOP]``: completed years of age on an explicit date, in bands of
  ``W`` years (``"5-9"``); ages ``TOP`` and over are one band (``"90+"``, the
  default TOP). A birth date after that date, or none, gives null.
- ``district`` / ``area``: the outward code (``"QA12"``) or its letters (``"QA"``);
  anything not shaped like a UK postcode gives null, never the raw text.
- ``month`` / ``year``: ``"2019-03"`` / ``"2019"``.
- ``pseudonym`` (identifiers) and ``keep`` (everything else).

:meth:`Rule.coarser` gives the next rule up the ladder (band width doubled,
district to area, month to year, then the column is dropped), which the end-of-
study anonymisation climbs until its output passes k.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from governance.research.catalogue import Kind, SourceField
from governance.research.errors import SpecError

__all__ = ["Rule", "parse_rule", "default_rule", "age_bands", "postcode_district", "postcode_area", "month_of",
           "year_of", "generalise", "coarsen", "map_distinct", "output_type"]

DEFAULT_AGE_WIDTH = 5
DEFAULT_AGE_TOP = 90
_RULES = {
    Kind.IDENTIFIER: ("pseudonym",),
    Kind.BIRTH_DATE: ("age_band",),
    Kind.POSTCODE: ("district", "area"),
    Kind.DATE: ("month", "year"),
    Kind.CATEGORY: ("keep",),
    Kind.FLAG: ("keep",),
    Kind.COUNT: ("keep",),
    Kind.FREE_TEXT: ("keep",),
}
_AGE = re.compile(r"^age_band(?::(\d{1,3}))?(?::(\d{1,3}))?$")
_OUTWARD_TAIL = r"\s*[0-9][A-Z]{2}$"  # the inward code ("2AB"), with or without the space
_OUTWARD = r"^[A-Z]{1,2}[0-9][0-9A-Z]?$"


@dataclass(frozen=True)
class Rule:
    """A parsed rule: ``name`` plus band ``width`` and ``top`` for age bands."""

    kind: Kind
    name: str
    width: int = 0
    top: int = 0

    @property
    def text(self) -> str:
        return f"age_band:{self.width}:{self.top}" if self.name == "age_band" else self.name

    def coarser(self) -> "Rule | None":
        """The next rule up the generalisation ladder; None means drop the column."""
        if self.name == "age_band":
            wider = self.width * 2
            return replace(self, width=wider) if wider < self.top else None
        return {"district": replace(self, name="area"), "month": replace(self, name="year")}.get(self.name)

    def output_name(self, field: SourceField) -> str:
        if self.kind is Kind.IDENTIFIER:
            return f"{field.name.removesuffix('_id')}_pseudonym"
        if self.kind is Kind.BIRTH_DATE:
            return "age_band"
        if self.kind is Kind.POSTCODE:
            return f"postcode_{self.name}"
        if self.kind is Kind.DATE:
            return f"{field.name.removesuffix('_on')}_{self.name}"
        return field.name


def default_rule(kind: Kind) -> Rule:
    if kind is Kind.BIRTH_DATE:
        return Rule(kind, "age_band", DEFAULT_AGE_WIDTH, DEFAULT_AGE_TOP)
    return Rule(kind, _RULES[kind][0])


def parse_rule(field: SourceField, text: str) -> Rule:
    """Parse ``text`` as a rule for ``field``; :class:`SpecError` if it does not fit the field's kind."""
    allowed = _RULES[field.kind]
    if field.kind is Kind.BIRTH_DATE:
        match = _AGE.match(str(text).strip())
        if not match:
            raise SpecError(f"generalise.{field.name}: use age_band:WIDTH[:TOP] (raw dates of birth are never extracted)")
        width = int(match.group(1) or DEFAULT_AGE_WIDTH)
        top = int(match.group(2) or DEFAULT_AGE_TOP)
        if not 1 <= width < top:
            raise SpecError(f"generalise.{field.name}: band width must be at least 1 and below the top age {top}")
        return Rule(field.kind, "age_band", width, top)
    if text not in allowed:
        raise SpecError(f"generalise.{field.name}: rule {text!r} not allowed for a {field.kind.value} field "
                        f"(allowed: {', '.join(allowed)})")
    return Rule(field.kind, text)


def output_type(kind: Kind) -> pa.DataType:
    return {Kind.FLAG: pa.bool_(), Kind.COUNT: pa.int64()}.get(kind, pa.string())


# -- from raw values --------------------------------------------------------------


def age_bands(dob: pa.Array, as_of: date, width: int, top: int) -> pa.Array:
    """Completed years on ``as_of`` as band labels (``"5-9"``, ``"90+"``); null if unknown or after ``as_of``."""
    dob = pc.cast(dob, pa.date32())
    month, day = pc.month(dob), pc.day(dob)
    before_birthday = pc.or_(pc.greater(month, as_of.month),
                             pc.and_(pc.equal(month, as_of.month), pc.greater(day, as_of.day)))
    age = pc.subtract(pc.subtract(pa.scalar(as_of.year, pa.int64()), pc.cast(pc.year(dob), pa.int64())),
                      pc.cast(before_birthday, pa.int64()))
    low = pc.multiply(pc.divide(age, width), width)  # integer division: age >= 0 where it is used
    high = pc.min_element_wise(pc.add(low, width - 1), top - 1)
    label = pc.binary_join_element_wise(pc.cast(low, pa.string()), pc.cast(high, pa.string()), "-")
    label = pc.if_else(pc.greater_equal(age, top), pa.scalar(f"{top}+"), label)
    return pc.if_else(pc.less(age, 0), pa.scalar(None, pa.string()), label)


def postcode_district(postcode: pa.Array) -> pa.Array:
    """The outward code (``"QA12"``) of a UK-shaped postcode; null for anything else."""
    text = pc.utf8_upper(pc.utf8_trim_whitespace(pc.cast(postcode, pa.string())))
    outward = pc.replace_substring_regex(text, _OUTWARD_TAIL, "")
    # Only a full postcode (inward code present) yields a district: text that is
    # already an outward code or not a postcode at all never leaks through.
    full = pc.match_substring_regex(text, r"^[A-Z]{1,2}[0-9][0-9A-Z]?\s*[0-9][A-Z]{2}$")
    return pc.if_else(pc.and_(full, pc.match_substring_regex(outward, _OUTWARD)), outward, pa.scalar(None, pa.string()))


def postcode_area(postcode: pa.Array) -> pa.Array:
    """The postcode area (the outward code's letters, ``"QA"``)."""
    return _area_of_district(postcode_district(postcode))


def _area_of_district(district: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(district, r"[0-9][0-9A-Z]?$", "")


def month_of(dates: pa.Array) -> pa.Array:
    dates = pc.cast(dates, pa.date32())
    month = pc.utf8_lpad(pc.cast(pc.month(dates), pa.string()), 2, "0")
    return pc.binary_join_element_wise(pc.cast(pc.year(dates), pa.string()), month, "-")


def year_of(dates: pa.Array) -> pa.Array:
    return pc.cast(pc.year(pc.cast(dates, pa.date32())), pa.string())


def generalise(rule: Rule, values: pa.Array, as_of: date) -> pa.Array:
    """Apply ``rule`` (other than ``pseudonym``) to raw ``values``."""
    if rule.name == "age_band":
        return age_bands(values, as_of, rule.width, rule.top)
    if rule.name == "district":
        return postcode_district(values)
    if rule.name == "area":
        return postcode_area(values)
    if rule.name == "month":
        return month_of(values)
    if rule.name == "year":
        return year_of(values)
    if rule.name == "keep":
        return pc.cast(values, output_type(rule.kind))
    raise SpecError(f"rule {rule.name!r} cannot be applied to raw values")


# -- from generalised labels (end-of-study anonymisation) ---------------------------


def map_distinct(values: pa.Array | pa.ChunkedArray, fn) -> pa.Array:
    """``fn`` applied to each distinct value only, spread back over the column (nulls stay null)."""
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks() if encoded.num_chunks else pa.array([], pa.dictionary(pa.int32(), pa.string()))
    mapped = pa.array([None if v is None else fn(v) for v in encoded.dictionary.to_pylist()], pa.string())
    return mapped.take(encoded.indices)


def coarsen(labels: pa.Array | pa.ChunkedArray, source: Rule, target: Rule) -> pa.Array:
    """Generalised ``labels`` made by ``source`` re-expressed under the coarser ``target``."""
    if source.name == "age_band" and target.name == "age_band":
        top_label = f"{source.top}+"

        def wider(label: str) -> str:
            if label == top_label:
                return label
            low = int(label.split("-")[0]) // target.width * target.width
            return f"{low}-{min(low + target.width - 1, target.top - 1)}"

        return map_distinct(labels, wider)
    if (source.name, target.name) == ("district", "area"):
        return _area_of_district(pc.cast(labels, pa.string()))
    if (source.name, target.name) == ("month", "year"):
        return pc.utf8_slice_codeunits(pc.cast(labels, pa.string()), 0, 4)
    if source == target:
        return labels
    raise SpecError(f"cannot coarsen {source.text} to {target.text}")

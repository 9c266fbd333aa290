"""Study specifications: what a study is, what its extract holds, what happens at its end.

A specification is a TOML or JSON file (or the same structure as a dict)::

    id = "S-2026-001"
    title = "Early help outcomes"
    purpose = "Evaluate repeat referrals after early help"
    approver = "IG board"               # who approved it
    approved_on = 2026-02-01            # optional: approved at registration
    recipient = "University of Example"
    start = 2026-03-01
    end = 2026-12-31
    end_action = "anonymise"            # or "destroy"
    exclude_opted_out = true            # default true
    opt_out_scope = "family"            # default "family"; or "person"
    intruder_assessment = "DPIA-2026-014 s.5"   # optional: where the motivated-intruder test is recorded

    [extract]
    store = "default"
    population = ["subject_child"]      # case roles whose rows are extracted
    case_types = []                     # empty: every case type
    fields = ["person_id", "date_of_birth", "postcode", "case_type", "opened_on"]
    quasi_identifiers = ["date_of_birth", "postcode", "opened_on"]
    sensitive = ["case_type"]
    k = 10
    l = 2                               # default 2 when sensitive attributes are declared
    age_as_of = 2026-03-01              # optional; default the build's as_of
    keep_free_text = []                 # free-text fields to keep (dropped otherwise)
    max_suppression = 0.05              # anonymisation: share of persons it may suppress

    [extract.generalise]
    date_of_birth = "age_band:5:18"
    postcode = "district"
    opened_on = "month"

    [[extract.tables]]                  # aggregate tables, small cells suppressed
    name = "by_type"
    by = ["case_type", "date_of_birth"]
    min_cell = 10                       # default k

Decisions: ``person_id`` is always in the extract (the row's unit); birth dates
and postcodes are always quasi-identifiers; opt-outs are family-level by
default (a family with any member who opted out is absent), the stricter reading
of "families who opted out" (docs/research.md).
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Mapping

from governance.research.catalogue import ALWAYS_QUASI, FIELDS, REFUSED, Kind
from governance.research.errors import SpecError
from governance.research.generalise import Rule, default_rule, parse_rule
from governance.stores.model import CASE_TYPES, MEMBER_ROLES

__all__ = ["StudySpec", "ExtractSpec", "TableSpec", "load_spec", "parse_spec", "END_ACTIONS", "OPT_OUT_SCOPES",
           "STUDY_ID"]

END_ACTIONS = ("anonymise", "destroy")
OPT_OUT_SCOPES = ("family", "person")
STUDY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,47}$")
_TABLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_STUDY_KEYS = {"id", "title", "purpose", "approver", "approved_on", "recipient", "start", "end", "end_action",
               "exclude_opted_out", "opt_out_scope", "intruder_assessment", "extract"}
_EXTRACT_KEYS = {"store", "population", "case_types", "fields", "quasi_identifiers", "sensitive", "k", "l",
                 "age_as_of", "keep_free_text", "generalise", "tables", "max_suppression"}


@dataclass(frozen=True)
class TableSpec:
    name: str
    by: tuple[str, ...]
    min_cell: int


@dataclass(frozen=True)
class ExtractSpec:
    store: str
    population: tuple[str, ...]
    case_types: tuple[str, ...]
    fields: tuple[str, ...]
    rules: Mapping[str, Rule]
    quasi_identifiers: tuple[str, ...]
    sensitive: tuple[str, ...]
    k: int
    l: int
    age_as_of: date | None
    keep_free_text: tuple[str, ...]
    tables: tuple[TableSpec, ...]
    max_suppression: float

    def output_fields(self) -> tuple[str, ...]:
        """Fields that reach the extract: free text not asked for is dropped."""
        return tuple(f for f in self.fields if FIELDS[f].kind is not Kind.FREE_TEXT or f in self.keep_free_text)

    def dropped_free_text(self) -> tuple[str, ...]:
        return tuple(f for f in self.fields if f not in self.output_fields())


@dataclass(frozen=True)
class StudySpec:
    study_id: str
    title: str
    purpose: str
    approver: str | None
    approved_on: date | None
    recipient: str
    start_on: date
    end_on: date
    end_action: str
    exclude_opted_out: bool
    opt_out_scope: str
    extract: ExtractSpec
    intruder_assessment: str | None = None
    source: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_json(self) -> str:
        """The specification as registered (canonical JSON of the parsed source)."""
        return json.dumps(self.source, sort_keys=True, separators=(",", ":"), default=str)

    def sha256(self) -> str:
        return hashlib.sha256(self.to_json().encode("utf-8")).hexdigest()


def load_spec(path: Path) -> StudySpec:
    """Read a ``.toml`` or ``.json`` specification file."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise SpecError(f"study spec {path}: cannot read ({type(exc).__name__})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise SpecError(f"study spec {path}: not valid {path.suffix.lstrip('.') or 'TOML'} ({type(exc).__name__})") from None
    return parse_spec(data, source=str(path.name))


def _date(value: Any, where: str, *, optional: bool = False) -> date | None:
    if value is None and optional:
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise SpecError(f"{where}: not a date (YYYY-MM-DD)") from None


def _text(data: Mapping[str, Any], key: str, where: str, *, optional: bool = False, limit: int = 400) -> str | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit or "\n" in value:
        raise SpecError(f"{where}{key}: required, one line of at most {limit} characters")
    return value.strip()


def _names(data: Mapping[str, Any], key: str, where: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    value = data.get(key, list(default))
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{where}{key}: must be a list of names")
    return tuple(dict.fromkeys(value))


def _jsonable(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {str(k): _jsonable(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_jsonable(v) for v in data]
    return data.isoformat() if isinstance(data, date) else data


def parse_spec(data: Mapping[str, Any], *, source: str = "spec") -> StudySpec:
    """Validate a specification mapping; :class:`SpecError` names the first problem."""
    where = f"study spec {source}: "
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}must be a table of settings")
    unknown = sorted(set(data) - _STUDY_KEYS)
    if unknown:
        raise SpecError(f"{where}unknown setting(s): {', '.join(unknown)}")
    study_id = _text(data, "id", where, limit=48)
    if not STUDY_ID.match(study_id):
        raise SpecError(f"{where}id must be 1-48 of A-Z, a-z, 0-9, _ and -, starting with a letter or digit")
    where = f"study {study_id}: "
    start, end = _date(data.get("start"), f"{where}start"), _date(data.get("end"), f"{where}end")
    if end < start:
        raise SpecError(f"{where}end {end} is before start {start}")
    end_action = data.get("end_action")
    if end_action not in END_ACTIONS:
        raise SpecError(f"{where}end_action must be one of {', '.join(END_ACTIONS)}")
    scope = data.get("opt_out_scope", "family")
    if scope not in OPT_OUT_SCOPES:
        raise SpecError(f"{where}opt_out_scope must be one of {', '.join(OPT_OUT_SCOPES)}")
    exclude = data.get("exclude_opted_out", True)
    if not isinstance(exclude, bool):
        raise SpecError(f"{where}exclude_opted_out must be true or false")
    extract = _parse_extract(data.get("extract"), where)
    return StudySpec(
        study_id=study_id, title=_text(data, "title", where), purpose=_text(data, "purpose", where, limit=2000),
        approver=_text(data, "approver", where, optional=True, limit=200),
        approved_on=_date(data.get("approved_on"), f"{where}approved_on", optional=True),
        recipient=_text(data, "recipient", where, limit=200), start_on=start, end_on=end, end_action=end_action,
        exclude_opted_out=exclude, opt_out_scope=scope, extract=extract, source=_jsonable(data),
        intruder_assessment=_text(data, "intruder_assessment", where, optional=True, limit=200),
    )


def _parse_extract(data: Any, where: str) -> ExtractSpec:
    if not isinstance(data, Mapping):
        raise SpecError(f"{where}[extract] is missing")
    where = f"{where}extract."
    unknown = sorted(set(data) - _EXTRACT_KEYS)
    if unknown:
        raise SpecError(f"{where}unknown setting(s): {', '.join(unknown)}")
    fields = _names(data, "fields", where)
    refused = [f for f in fields if f in REFUSED]
    if refused:
        raise SpecError(f"{where}fields: {', '.join(refused)} are direct identifiers or note text and never extracted")
    unknown_fields = [f for f in fields if f not in FIELDS]
    if unknown_fields:
        raise SpecError(f"{where}fields: unknown {', '.join(unknown_fields)} (known: {', '.join(FIELDS)})")
    fields = ("person_id", *(f for f in fields if f != "person_id"))
    generalise = data.get("generalise", {})
    if not isinstance(generalise, Mapping):
        raise SpecError(f"{where}generalise must be a table of field = rule")
    stray = sorted(set(generalise) - set(fields))
    if stray:
        raise SpecError(f"{where}generalise: {', '.join(stray)} not in fields")
    rules = {f: parse_rule(FIELDS[f], generalise[f]) if f in generalise else default_rule(FIELDS[f].kind)
             for f in fields}
    declared = _names(data, "quasi_identifiers", where)
    sensitive = _names(data, "sensitive", where)
    keep_free_text = _names(data, "keep_free_text", where)
    for key, names in (("quasi_identifiers", declared), ("sensitive", sensitive), ("keep_free_text", keep_free_text)):
        missing = [n for n in names if n not in fields]
        if missing:
            raise SpecError(f"{where}{key}: {', '.join(missing)} not in fields")
    if any(FIELDS[n].kind is Kind.IDENTIFIER for n in (*declared, *sensitive)):
        raise SpecError(f"{where}identifiers are pseudonymised and cannot be quasi-identifiers or sensitive attributes")
    quasi = tuple(dict.fromkeys((*declared, *(f for f in fields if FIELDS[f].kind in ALWAYS_QUASI))))
    if set(quasi) & set(sensitive):
        raise SpecError(f"{where}a field cannot be both quasi-identifier and sensitive: "
                        f"{', '.join(sorted(set(quasi) & set(sensitive)))}")
    k, l_value = data.get("k", 10), data.get("l", 2 if sensitive else 1)
    if type(k) is not int or k < 2:
        raise SpecError(f"{where}k must be a whole number of at least 2")
    if type(l_value) is not int or l_value < 1 or (l_value > 1 and not sensitive):
        raise SpecError(f"{where}l must be a whole number of at least 1, and above 1 only with sensitive attributes")
    max_suppression = data.get("max_suppression", 0.05)
    if not isinstance(max_suppression, (int, float)) or not 0 <= max_suppression < 1:
        raise SpecError(f"{where}max_suppression must be a fraction from 0 to below 1")
    population, case_types = _names(data, "population", where, ("subject_child",)), _names(data, "case_types", where)
    if not population or set(population) - set(MEMBER_ROLES):
        raise SpecError(f"{where}population: one or more of {', '.join(MEMBER_ROLES)}")
    if set(case_types) - set(CASE_TYPES):
        raise SpecError(f"{where}case_types: only {', '.join(CASE_TYPES)}")
    store = data.get("store", "default")
    if not isinstance(store, str) or not store:
        raise SpecError(f"{where}store must be a configured store's name")
    return ExtractSpec(
        store=store, population=population, case_types=case_types, fields=fields, rules=rules, quasi_identifiers=quasi,
        sensitive=sensitive, k=k, l=l_value, age_as_of=_date(data.get("age_as_of"), f"{where}age_as_of", optional=True),
        keep_free_text=keep_free_text, tables=_parse_tables(data.get("tables", []), fields, k, where),
        max_suppression=float(max_suppression),
    )


def _parse_tables(data: Any, fields: tuple[str, ...], k: int, where: str) -> tuple[TableSpec, ...]:
    if not isinstance(data, list):
        raise SpecError(f"{where}tables must be a list of tables")
    tables = []
    for index, item in enumerate(data):
        here = f"{where}tables[{index}]."
        if not isinstance(item, Mapping) or not _TABLE_NAME.match(str(item.get("name", ""))):
            raise SpecError(f"{here}name: required, lower-case letters, digits and _")
        by = _names(item, "by", here)
        bad = [b for b in by if b not in fields or FIELDS[b].kind in (Kind.IDENTIFIER, Kind.FREE_TEXT)]
        if not by or bad:
            raise SpecError(f"{here}by: one or more extract fields that are not identifiers or free text")
        min_cell = item.get("min_cell", k)
        if type(min_cell) is not int or min_cell < 2:
            raise SpecError(f"{here}min_cell must be a whole number of at least 2")
        tables.append(TableSpec(item["name"], by, min_cell))
    if len({t.name for t in tables}) != len(tables):
        raise SpecError(f"{where}tables: names must be unique")
    return tuple(tables)


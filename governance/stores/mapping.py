"""Store mappings: which physical tables and columns hold the logical model.

A mapping is a TOML file, so a council plugs its own case-management schema in
without code::

    [store]
    name = "reference"
    case_types = ["early_help", "child_in_need"]   # optional: types this store holds

    [entities.person]
    table = "people"
    [entities.person.columns]
    id = "person_id"
    role = "role"
    ...
    [entities.person.values.role]     # optional: the store's own codes
    subject_child = "CHILD"

Required entities must be mapped; optional ones (consents, sharing, access log)
may be left out and the capabilities that need them say so. Every problem is
reported as one :class:`MappingError` line naming the file, entity and field.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from governance.errors import MappingError
from governance.stores.model import CASE_TYPES, ENTITIES

__all__ = ["EntityMapping", "StoreMapping", "load_mapping", "BUILTIN_MAPPINGS", "REQUIRED_ENTITIES"]

BUILTIN_DIR = Path(__file__).parent / "mappings"
BUILTIN_MAPPINGS = ("reference", "homestart")
REQUIRED_ENTITIES = ("family", "person", "case", "case_member", "casenote")


@dataclass(frozen=True)
class EntityMapping:
    entity: str
    table: str
    columns: Mapping[str, str]  # logical field -> physical column
    values: Mapping[str, Mapping[str, str]]  # logical field -> {logical value: stored value}

    def column(self, field: str) -> str:
        return self.columns[field]

    def has(self, field: str) -> bool:
        return field in self.columns


@dataclass(frozen=True)
class StoreMapping:
    name: str
    source: str
    entities: Mapping[str, EntityMapping]
    case_types: tuple[str, ...]
    schema: str | None = None
    description: str = ""

    def has(self, entity: str) -> bool:
        return entity in self.entities

    def entity(self, name: str) -> EntityMapping:
        try:
            return self.entities[name]
        except KeyError:
            raise MappingError(f"mapping {self.name}: store has no {name} table mapped") from None


def load_mapping(name_or_path: str | Path) -> StoreMapping:
    """Load a built-in mapping by name (``reference``, ``homestart``) or a TOML file by path."""
    text_name = str(name_or_path)
    path = BUILTIN_DIR / f"{text_name}.toml" if text_name in BUILTIN_MAPPINGS else Path(text_name)
    if not path.is_file():
        raise MappingError(
            f"mapping {text_name!r} not found: give a built-in name ({', '.join(BUILTIN_MAPPINGS)}) or a TOML file path"
        )
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise MappingError(f"mapping {path}: not UTF-8 text (undecodable byte at position {exc.start}); "
                           f"save the file as UTF-8") from None
    except OSError as exc:
        raise MappingError(f"mapping {path}: cannot be read ({exc.strerror or type(exc).__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message names a line and column, never the text there.
        raise MappingError(f"mapping {path}: not valid TOML ({exc})") from None
    return parse_mapping(raw, source=str(path))


def parse_mapping(raw: Mapping[str, Any], *, source: str) -> StoreMapping:
    where = f"mapping {source}"
    store = _table(raw.get("store", {}), f"{where}: [store]")
    name = store.get("name")
    if not isinstance(name, str) or not name:
        raise MappingError(f"{where}: [store] needs a name")
    raw_types = store.get("case_types", list(CASE_TYPES))
    if not isinstance(raw_types, list) or not all(isinstance(t, str) for t in raw_types):
        raise MappingError(f"{where}: [store] case_types must be a list of strings")
    case_types = tuple(raw_types)
    unknown_types = [t for t in case_types if t not in CASE_TYPES]
    if unknown_types:
        raise MappingError(f"{where}: [store] case_types has unknown type(s) {unknown_types}; known: {list(CASE_TYPES)}")

    entities_raw = _table(raw.get("entities", {}), f"{where}: [entities]")
    unknown = sorted(set(entities_raw) - set(ENTITIES))
    if unknown:
        raise MappingError(f"{where}: unknown entity {unknown[0]!r} (known: {', '.join(ENTITIES)})")
    missing = [e for e in REQUIRED_ENTITIES if e not in entities_raw]
    if missing:
        raise MappingError(f"{where}: required entity {missing[0]!r} is not mapped")

    entities = {
        entity_name: _parse_entity(entity_name, _table(body, f"{where}: [entities.{entity_name}]"), where)
        for entity_name, body in entities_raw.items()
    }
    _check_links(entities, where)
    schema = store.get("schema") or None
    if schema is not None:
        _identifier(schema, f"{where}: [store] schema")
    return StoreMapping(
        name=name,
        source=source,
        entities=MappingProxyType(entities),
        case_types=case_types,
        schema=schema,
        description=str(store.get("description", "")),
    )


def _parse_entity(entity_name: str, body: Mapping[str, Any], where: str) -> EntityMapping:
    model = ENTITIES[entity_name]
    here = f"{where}: entities.{entity_name}"
    table = body.get("table")
    if not isinstance(table, str) or not table:
        raise MappingError(f"{here}: needs a table name")
    _identifier(table, f"{here}.table")
    columns = _table(body.get("columns", {}), f"{here}.columns")
    for field_name, column in columns.items():
        if field_name not in model.field_names:
            raise MappingError(f"{here}.columns: unknown field {field_name!r} (fields: {', '.join(model.field_names)})")
        if not isinstance(column, str) or not column:
            raise MappingError(f"{here}.columns.{field_name}: column name must be a non-empty string")
        _identifier(column, f"{here}.columns.{field_name}")
    for f in model.fields:
        if f.required and f.name not in columns:
            raise MappingError(f"{here}.columns: required field {f.name!r} is not mapped")
    physical = list(columns.values())
    doubled = sorted({c for c in physical if physical.count(c) > 1})
    if doubled:
        raise MappingError(f"{here}.columns: column {doubled[0]!r} is mapped to more than one field")

    values: dict[str, Mapping[str, str]] = {}
    for field_name, table_of_values in _table(body.get("values", {}), f"{here}.values").items():
        if field_name not in columns:
            raise MappingError(f"{here}.values: field {field_name!r} has value codes but is not mapped")
        vocabulary = model.field(field_name).vocabulary
        if vocabulary is None:
            raise MappingError(f"{here}.values: field {field_name!r} is not an enumerated field")
        codes = _table(table_of_values, f"{here}.values.{field_name}")
        for logical, stored in codes.items():
            if logical not in vocabulary:
                raise MappingError(f"{here}.values.{field_name}: unknown value {logical!r} (known: {', '.join(vocabulary)})")
            if not isinstance(stored, str):
                raise MappingError(f"{here}.values.{field_name}.{logical}: stored code must be a string")
        stored_codes = list(codes.values())
        if len(set(stored_codes)) != len(stored_codes):
            raise MappingError(f"{here}.values.{field_name}: two values share one stored code")
        values[field_name] = MappingProxyType(dict(codes))
    return EntityMapping(entity_name, table, MappingProxyType(dict(columns)), MappingProxyType(values))


def _check_links(entities: Mapping[str, EntityMapping], where: str) -> None:
    for mapped in entities.values():
        for field_name, target in ENTITIES[mapped.entity].links.items():
            if mapped.has(field_name) and target not in entities:
                raise MappingError(
                    f"{where}: entities.{mapped.entity}.{field_name} links to {target}, which is not mapped"
                )


# PostgreSQL truncates identifiers past 63 bytes; control characters are never a real name.
_MAX_IDENTIFIER_BYTES = 63


def _identifier(value: Any, where: str) -> str:
    """A table, column or schema name the databases can hold as it is written."""
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{where}: must be a non-empty string")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise MappingError(f"{where}: name contains a control character")
    if len(value.encode("utf-8")) > _MAX_IDENTIFIER_BYTES:
        raise MappingError(f"{where}: name is longer than {_MAX_IDENTIFIER_BYTES} bytes")
    return value


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MappingError(f"{where} must be a table")
    return value

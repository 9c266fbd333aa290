"""Mapping files: the built-ins load, and every malformed mapping fails with one clear line."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from governance.errors import MappingError
from governance.stores.mapping import BUILTIN_DIR, load_mapping, parse_mapping
from governance.stores.model import ENTITIES


@pytest.mark.parametrize("name", ["reference", "homestart"])
def test_builtin_mappings_map_every_entity_and_required_field(name):
    mapping = load_mapping(name)
    assert set(mapping.entities) == set(ENTITIES)
    for entity_name, mapped in mapping.entities.items():
        for f in ENTITIES[entity_name].fields:
            if f.required:
                assert mapped.has(f.name), f"{name}: {entity_name}.{f.name}"


def test_homestart_uses_its_own_names_and_codes():
    mapping = load_mapping("homestart")
    assert mapping.entity("case").table == "FamilyFile"
    assert mapping.entity("case").column("closed_on") == "SupportEnded"
    assert mapping.entity("person").values["role"]["subject_child"] == "CHILD"
    assert mapping.case_types == ("home_start",)


def _reference_raw() -> dict:
    return tomllib.loads((BUILTIN_DIR / "reference.toml").read_text())


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda r: r["entities"].pop("case"), "required entity 'case' is not mapped"),
        (lambda r: r["entities"]["case"]["columns"].pop("opened_on"), "required field 'opened_on' is not mapped"),
        (lambda r: r["entities"]["case"]["columns"].update(colour="colour"), "unknown field 'colour'"),
        (lambda r: r["entities"].update(spaceship={"table": "x"}), "unknown entity 'spaceship'"),
        (lambda r: r["entities"]["case"]["columns"].update(closed_on="opened_on"), "mapped to more than one field"),
        (lambda r: r["entities"]["person"].update(values={"role": {"wizard": "W"}}), "unknown value 'wizard'"),
        (lambda r: r["entities"]["person"].update(values={"given_name": {"a": "b"}}), "not an enumerated field"),
        (lambda r: r["entities"]["case"].pop("table"), "needs a table name"),
        (lambda r: r["store"].pop("name"), "[store] needs a name"),
        (lambda r: r["store"].update(case_types=["burglary"]), "unknown type(s) ['burglary']"),
        (lambda r: r["entities"].pop("consent"), "links to consent, which is not mapped"),
    ],
)
def test_malformed_mapping_names_the_problem(mutate, message):
    raw = _reference_raw()
    mutate(raw)
    with pytest.raises(MappingError) as caught:
        parse_mapping(raw, source="council.toml")
    text = str(caught.value)
    assert message in text
    assert "council.toml" in text
    assert "\n" not in text


def test_missing_file_and_bad_toml(tmp_path: Path):
    with pytest.raises(MappingError, match="not found"):
        load_mapping(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[store\nname=")
    with pytest.raises(MappingError, match="not valid TOML"):
        load_mapping(bad)


def test_optional_entities_may_be_left_out():
    raw = _reference_raw()
    for optional in ("access_log", "sharing_record", "consent_opt_out", "consent", "document"):
        raw["entities"].pop(optional)
    raw["entities"]["sharing_record"] = None
    raw["entities"].pop("sharing_record")
    mapping = parse_mapping(raw, source="small.toml")
    assert not mapping.has("access_log")
    with pytest.raises(MappingError, match="no access_log table mapped"):
        mapping.entity("access_log")

"""Study specifications: what is accepted, what is refused, and the stricter defaults."""

from __future__ import annotations

import json

import pytest

from governance.research.errors import SpecError
from governance.research.spec import load_spec, parse_spec
from tests.research.conftest import spec_dict


def test_a_valid_spec_parses_with_the_stricter_defaults() -> None:
    spec = parse_spec(spec_dict(extract={"fields": ["date_of_birth", "postcode", "case_type"],
                                         "quasi_identifiers": [], "sensitive": ["case_type"],
                                         "generalise": {}}))
    extract = spec.extract
    assert extract.fields[0] == "person_id"  # the unit of the extract is always there
    assert set(extract.quasi_identifiers) == {"date_of_birth", "postcode"}  # always quasi-identifiers
    assert extract.k == 10 and extract.l == 2
    assert spec.exclude_opted_out is True and spec.opt_out_scope == "family"
    assert extract.rules["postcode"].text == "district"
    assert extract.rules["date_of_birth"].text == "age_band:5:90"


def test_free_text_is_dropped_unless_asked_for() -> None:
    dropped = parse_spec(spec_dict()).extract
    assert "closure_reason" not in dropped.output_fields()
    assert dropped.dropped_free_text() == ("closure_reason",)
    kept = parse_spec(spec_dict(extract={"keep_free_text": ["closure_reason"]})).extract
    assert "closure_reason" in kept.output_fields()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"extract": {"fields": ["person_id", "given_name"]}}, "direct identifiers"),
        ({"extract": {"fields": ["person_id", "address"]}}, "direct identifiers"),
        ({"extract": {"fields": ["person_id", "shoe_size"]}}, "unknown shoe_size"),
        ({"extract": {"generalise": {"date_of_birth": "keep"}}}, "raw dates of birth are never extracted"),
        ({"extract": {"generalise": {"date_of_birth": "age_band:5", "opened_on": "day"}}}, "not allowed"),
        ({"extract": {"k": 1}}, "k must be"),
        ({"extract": {"sensitive": [], "l": 3}}, "l must be"),
        ({"extract": {"quasi_identifiers": ["person_id"]}}, "identifiers are pseudonymised"),
        ({"extract": {"sensitive": ["date_of_birth"]}}, "both quasi-identifier and sensitive"),
        ({"end": "2025-01-01"}, "is before start"),
        ({"end_action": "keep"}, "end_action"),
        ({"opt_out_scope": "street"}, "opt_out_scope"),
        ({"id": "../etc"}, "id must be"),
        ({"colour": "red"}, "unknown setting"),
        ({"extract": {"population": ["neighbour"]}}, "population"),
        ({"extract": {"case_types": ["space_case"]}}, "case_types"),
    ],
)
def test_bad_specs_are_refused_with_one_line(changes, message) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(spec_dict(**changes))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_toml_and_json_files_give_the_same_spec(tmp_path) -> None:
    toml = tmp_path / "s.toml"
    toml.write_text('''
id = "S1"
title = "Test study"
purpose = "Testing research extracts"
approver = "Test IG board"
approved_on = 2026-01-10
recipient = "Fictional University"
start = 2026-01-01
end = 2026-12-31
end_action = "anonymise"

[extract]
fields = ["person_id", "family_id", "case_id", "date_of_birth", "case_type", "opened_on",
          "child_protection_concerns", "casenote_count", "closure_reason"]
quasi_identifiers = ["date_of_birth"]
sensitive = ["case_type"]
k = 10
l = 2

[extract.generalise]
date_of_birth = "age_band:10:20"
''')
    js = tmp_path / "s.json"
    js.write_text(json.dumps(spec_dict()))
    assert load_spec(toml).sha256() == load_spec(js).sha256() == parse_spec(spec_dict()).sha256()


def test_an_unreadable_file_is_one_line(tmp_path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("id = [unclosed")
    with pytest.raises(SpecError, match="not valid toml"):
        load_spec(bad)

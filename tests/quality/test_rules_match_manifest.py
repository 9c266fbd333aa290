"""Every rule against the generator's manifest, on SQLite and PostgreSQL, for both mappings.

The generator injects each defect kind on its own families and lists the
affected record identifiers. The rule that catches a kind must fail exactly
those records (same count, same identifiers); every other rule must pass (or
be skipped, with its reason, where the mapping lacks a field); a clean store
passes everything.
"""

from __future__ import annotations

import pytest

from expectations import DATASETS, DEFECT_RULES, all_rules
from governance.quality.options import QualityOptions
from governance.quality.report import FAILED, PASSED, SKIPPED
from governance.quality.runner import validate
from governance.stores.synthetic.plan import DEFECT_KINDS
from tests.quality.conftest import AS_OF, AT

pytestmark = pytest.mark.slow

#: What the Home-Start mapping does not map, and so cannot check.
HOMESTART_SKIPPED = {
    "person.date_of_death.readable": "field person.date_of_death is not mapped",
    "person.date_of_death.not_in_future": "field person.date_of_death is not mapped",
    "person.date_of_death.not_before_date_of_birth": "field person.date_of_death is not mapped",
    "case.reopened_on.readable": "field case.reopened_on is not mapped",
    "case.reopened_on.not_in_future": "field case.reopened_on is not mapped",
    "case.reopened_on.not_before_opened_on": "field case.reopened_on is not mapped",
    "case.order_date.readable": "field case.order_date is not mapped",
    "case.order_date.not_in_future": "field case.order_date is not mapped",
}


def test_every_defect_kind_has_exactly_one_rule() -> None:
    names = [rule.rule for rules in all_rules().values() for rule in rules]
    assert len(names) == len(set(names)), "rule names must be unique"
    assert set(DEFECT_RULES) == set(DEFECT_KINDS)
    assert set(DEFECT_RULES.values()) <= set(names)
    assert set(all_rules()) == set(DATASETS)
    assert all(len(name) <= 64 for name in names), "rule names are ledger count keys (<= 64 chars)"


def _report(store, **options):
    return validate(store, QualityOptions(as_of=AS_OF, **options), run_id="test-run", run_time=AT).report


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_each_defect_is_caught_with_the_manifest_identifiers(make_store, mapping: str) -> None:
    store, manifest = make_store(mapping, families=400, seed=11)

    report = _report(store)

    for kind in DEFECT_KINDS:
        expected = sorted(manifest.problems.get(kind, []))
        assert expected, f"the generator injected no {kind}"
        outcome = report.outcome(DEFECT_RULES[kind])
        assert outcome.status == FAILED, (kind, outcome)
        assert outcome.unexpected == len(expected), (kind, outcome.unexpected, len(expected))
        assert list(outcome.record_ids) == expected, kind
        assert outcome.unidentified == 0
    others = [o for o in report.outcomes if o.rule not in DEFECT_RULES.values()]
    assert [o for o in others if o.status not in (PASSED, SKIPPED)] == []
    skipped = {o.rule: o.reason for o in report.outcomes if o.status == SKIPPED}
    assert skipped == (HOMESTART_SKIPPED if mapping == "homestart" else {})
    assert report.counts()["rules_errored"] == 0


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_a_clean_store_passes_every_rule(make_store, mapping: str) -> None:
    store, manifest = make_store(mapping, families=300, seed=5, clean=True)
    assert not any(manifest.problems.values())

    report = _report(store)

    failing = {o.rule: o.unexpected for o in report.outcomes if o.status not in (PASSED, SKIPPED)}
    assert failing == {}
    assert report.counts()["failing_rows"] == 0
    assert len(report.with_status(SKIPPED)) == (len(HOMESTART_SKIPPED) if mapping == "homestart" else 0)


def test_dormancy_period_is_configurable(make_store) -> None:
    store, manifest = make_store("reference", families=200, seed=11)
    dormant = manifest.problems["dormant_open_case"]

    # The generator's dormant cases have been idle for at least seven years.
    assert list(_report(store, dormant_years=7).outcome(DEFECT_RULES["dormant_open_case"]).record_ids) == sorted(dormant)
    assert _report(store, dormant_years=40).outcome(DEFECT_RULES["dormant_open_case"]).status == PASSED

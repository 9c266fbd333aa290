"""The parts under the suites: options, SQL generation, planning, sanitizing. No GX run needed."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from governance.errors import ConfigError
from governance.quality import sql
from governance.quality.options import QualityOptions, years_before
from governance.quality.report import QualityReport
from governance.quality.sanitize import error_type, raised, sanitize_result
from governance.quality.suites import expectations_package, plan_suites
from governance.stores.mapping import load_mapping
from governance.stores.model import ENTITIES, FieldType
from governance.stores.store import CaseStore


def _store(mapping: str = "reference") -> CaseStore:
    return CaseStore("s", load_mapping(mapping), sa.create_engine("sqlite://"))


def test_years_before_handles_leap_days() -> None:
    assert years_before(date(2028, 2, 29), 3) == date(2025, 2, 28)
    assert QualityOptions(as_of=date(2026, 6, 30)).dormant_cutoff == date(2023, 6, 30)
    with pytest.raises(ConfigError):
        QualityOptions(as_of=date(2026, 6, 30), max_quarantined_share=1.5)
    with pytest.raises(ConfigError):
        QualityOptions(as_of="2026-06-30")  # type: ignore[arg-type]


@pytest.mark.parametrize("mapping", ["reference", "homestart"])
def test_rules_never_read_names_addresses_or_note_text(mapping: str) -> None:
    store = _store(mapping)
    plans, _ = plan_suites(store)
    options = QualityOptions(as_of=date(2026, 6, 30))
    free_text = [(e.name, f.name) for e in ENTITIES.values() for f in e.fields
                 if f.pii and f.type in (FieldType.TEXT, FieldType.LONG_TEXT) and store.has_field(e.name, f.name)]
    for plan in plans:
        for rule in plan.rules:
            query = rule.sql(store, options)
            for entity, name in free_text:
                column = store.raw(entity, name).name
                assert f".{column}" not in query and f'."{column}"' not in query, (rule.rule, entity, name)


def test_rule_queries_read_the_batch_through_gx_placeholder() -> None:
    store = _store("homestart")
    plans, _ = plan_suites(store)
    options = QualityOptions(as_of=date(2026, 6, 30))
    queries = {rule.rule: rule.sql(store, options) for plan in plans for rule in plan.rules}
    assert queries and all(q.count("{batch}") == 1 and "gx_quality_batch" not in q for q in queries.values())
    # With a JOIN, GX substitutes a bare subquery and the rule aliases it; without, GX aliases it.
    assert "{batch} AS b" in queries["casenote.case_id.resolves"] and sql.has_join(queries["casenote.case_id.resolves"])
    single = queries["case.closed_on.present_when_closed"]
    assert "FROM {batch}" in single and "subselect." in single and not sql.has_join(single)
    # Stored codes and quoted CamelCase names, compiled for the store's dialect.
    assert "'ENDED'" in single and '"FamilyFile" AS t' in queries["casenote.case_id.resolves"]
    assert not sql.has_join("SELECT 'JOIN' AS \"JOIN\" -- JOIN")


def test_homestart_plan_skips_what_the_mapping_lacks() -> None:
    _, skipped = plan_suites(_store("homestart"))
    assert {s.rule.rule: s.reason for s in skipped} == {
        "person.date_of_death.readable": "field person.date_of_death is not mapped",
        "person.date_of_death.not_in_future": "field person.date_of_death is not mapped",
        "person.date_of_death.not_before_date_of_birth": "field person.date_of_death is not mapped",
        "case.reopened_on.readable": "field case.reopened_on is not mapped",
        "case.reopened_on.not_in_future": "field case.reopened_on is not mapped",
        "case.reopened_on.not_before_opened_on": "field case.reopened_on is not mapped",
        "case.order_date.readable": "field case.order_date is not mapped",
        "case.order_date.not_in_future": "field case.order_date is not mapped",
    }
    assert plan_suites(_store("reference"))[1] == []


def test_unmapped_entities_skip_their_whole_dataset() -> None:
    mapping = load_mapping("reference")
    entities = {k: v for k, v in mapping.entities.items() if k not in ("consent", "consent_opt_out")}
    store = CaseStore("s", type(mapping)(**{**mapping.__dict__, "entities": entities}), sa.create_engine("sqlite://"))
    plans, skipped = plan_suites(store)
    assert all(p.dataset != "consents" for p in plans)
    reasons = {s.reason for s in skipped if s.dataset == "consents"}
    assert reasons == {"entity consent is not mapped", "entity consent_opt_out is not mapped"}
    # A share's link to a consent-free store is unaffected; nothing else is skipped.
    assert {s.dataset for s in skipped} == {"consents"}


def test_sanitize_keeps_counts_and_drops_values_and_error_text() -> None:
    class Result:
        result = {"element_count": 10, "unexpected_count": 2, "unexpected_percent": 20.0,
                  "partial_unexpected_list": ["Jane Doe", "1900-01-01"], "unexpected_list": ["Jane Doe"],
                  "unexpected_index_list": [{"quality_record_id": ["P1", "P2"]}],
                  "details": {"unexpected_rows": [{"record_id": "P1"}]}, "observed_value": "Jane Doe"}
        exception_info = {"m1": {"raised_exception": True, "exception_message": "value 'Jane Doe' is bad",
                                 "exception_traceback": "Traceback...\nsqlalchemy.exc.DataError: value 'Jane Doe' is bad"}}
        rendered_content = ["<p>Jane Doe</p>"]

    evr = Result()
    assert raised(evr.exception_info) and error_type(evr.exception_info) == "DataError"
    sanitize_result(evr)
    assert evr.result == {"element_count": 10, "unexpected_count": 2, "unexpected_percent": 20.0}
    assert "Jane" not in str(evr.exception_info) and evr.exception_info["raised_exception"] is True
    assert evr.rendered_content is None


def test_expectations_package_loads_even_as_a_namespace() -> None:
    package = expectations_package()
    assert hasattr(package, "all_rules") and set(package.all_rules()) == set(package.DATASETS)


class _Evr:
    def __init__(self, count: int, inline: int, *, success: bool = False) -> None:
        self.expectation_config = type("Config", (), {"meta": {"rule": "case.x.y", "severity": "quarantine"}})()
        self.exception_info = {"raised_exception": False}
        self.success = success
        self.result = {"observed_value": count,
                       "details": {"unexpected_rows": [{"record_id": f"C{i}"} for i in range(inline)]}}


class _Built:
    def __init__(self, total: int, fails: bool = False) -> None:
        self.plan = type("Plan", (), {"dataset": "cases", "entity": "case"})()
        self.expectations = {"case.x.y": object()}
        self.fetched = 0

        def get_unexpected_rows(_expectation):
            self.fetched += 1
            if fails:
                raise RuntimeError("value 'Jane' is not a date")
            return [{"record_id": f"C{i}"} for i in range(total)]

        self.validation = type("Validation", (), {"get_unexpected_rows": staticmethod(get_unexpected_rows)})()


def test_all_failing_identifiers_are_fetched_up_to_the_limit() -> None:
    from governance.quality.runner import _outcome
    from governance.quality.service import gate

    options = QualityOptions(as_of=date(2026, 6, 30), max_ids_per_rule=1000)
    built = _Built(300)
    full = _outcome(built, _Evr(300, 200), options)
    assert built.fetched == 1 and len(full.record_ids) == 300 and full.unidentified == 0 and full.evaluated

    capped = _outcome(_Built(300), _Evr(300, 200), QualityOptions(as_of=date(2026, 6, 30), max_ids_per_rule=250))
    assert len(capped.record_ids) == 200 and capped.unidentified == 100 and not capped.evaluated
    assert "max_ids_per_rule" in capped.reason

    broken = _outcome(_Built(300, fails=True), _Evr(300, 200), options)
    assert broken.unidentified == 100 and broken.reason == "fetching every failing identifier raised RuntimeError"

    report = QualityReport(store="s", as_of=date(2026, 6, 30), run_id="r", outcomes=[full, capped])
    assert gate(report, active_cases=1, total_cases=100, options=options) == ["unidentified"]
    assert gate(QualityReport("s", date(2026, 6, 30), "r", [full]), active_cases=30, total_cases=100,
                options=QualityOptions(as_of=date(2026, 6, 30), max_quarantined_share=0.25)) == ["share"]


def test_importing_the_capability_does_not_import_great_expectations() -> None:
    import subprocess
    import sys

    code = ("import sys, governance.quality, governance.quality.service, governance.quality.quarantine, "
            "governance.jobs.quality, governance.cli.quality, expectations; expectations.all_rules(); "
            "print('great_expectations' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

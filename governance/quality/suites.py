"""From the rules in expectations/ to GX suites for one store.

:func:`plan_suites` (no GX) groups each dataset's rules by entity and drops
those the store cannot run, with the reason ("field case.reopened_on is not
mapped"). :func:`add_suites` (GX, lazily) makes, per planned entity, a table
asset over the entity's mapped table, a suite of expectations and a
validation definition; the runner puts them all in one checkpoint for the store.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from governance.quality.options import QualityOptions
from governance.quality.rules import Rule, missing_reason
from governance.stores.store import CaseStore

__all__ = ["SuitePlan", "Skipped", "plan_suites", "add_suites", "BuiltSuite", "expectations_package"]


def expectations_package() -> Any:
    """The ``expectations`` package, even where an old editable install sees only a namespace.

    An editable install made before ``expectations/__init__.py`` existed maps
    ``expectations`` as a namespace package (no ``__init__`` run) whenever the
    repository root is not on ``sys.path`` (Airflow workers, installed CLI);
    the package file is then loaded explicitly.
    """
    import expectations

    if hasattr(expectations, "all_rules"):
        return expectations
    for folder in expectations.__path__:
        init = Path(folder) / "__init__.py"
        if init.is_file():
            spec = importlib.util.spec_from_file_location("expectations", init, submodule_search_locations=[folder])
            module = importlib.util.module_from_spec(spec)
            sys.modules["expectations"] = module
            spec.loader.exec_module(module)
            return module
    raise ImportError("the expectations package (expectations/__init__.py) cannot be found")


@dataclass(frozen=True)
class Skipped:
    dataset: str
    rule: Rule
    reason: str


@dataclass
class SuitePlan:
    """The rules of one dataset that run on one entity of a store."""

    dataset: str
    entity: str
    rules: list[Rule] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.dataset}.{self.entity}"


def plan_suites(store: CaseStore, datasets: dict[str, list[Rule]] | None = None) -> tuple[list[SuitePlan], list[Skipped]]:
    """Suites to run on ``store`` and the rules it cannot run (with why)."""
    if datasets is None:
        datasets = expectations_package().all_rules()
    plans: list[SuitePlan] = []
    skipped: list[Skipped] = []
    for dataset, rules in datasets.items():
        by_entity: dict[str, SuitePlan] = {}
        for rule in rules:
            reason = missing_reason(store, rule.needs())
            if reason is not None:
                skipped.append(Skipped(dataset, rule, reason))
                if store.has(rule.entity):
                    by_entity.setdefault(rule.entity, SuitePlan(dataset, rule.entity)).skipped.append(skipped[-1])
                continue
            by_entity.setdefault(rule.entity, SuitePlan(dataset, rule.entity)).rules.append(rule)
        plans.extend(plan for plan in by_entity.values() if plan.rules)
    return plans, skipped


@dataclass
class BuiltSuite:
    plan: SuitePlan
    validation: Any  # gx.ValidationDefinition
    expectations: dict[str, Any]  # rule name -> the suite's expectation


class _Env:
    """What a rule needs to build its expectation: the store, the options, GX's expectation classes."""

    def __init__(self, store: CaseStore, options: QualityOptions) -> None:
        import great_expectations.expectations as gxe

        self.store, self.options, self.gxe = store, options, gxe


def _notes(plan: SuitePlan) -> str | None:
    if not plan.skipped:
        return None
    lines = [f"- {s.rule.rule}: skipped, {s.reason}" for s in plan.skipped]
    return "Rules not run on this store (its mapping lacks what they read):\n" + "\n".join(lines)


def add_suites(context: Any, datasource: Any, store: CaseStore, plans: list[SuitePlan], options: QualityOptions) -> list[BuiltSuite]:
    """Register assets, suites and validation definitions for ``plans`` in ``context``."""
    import great_expectations as gx

    env = _Env(store, options)
    built: list[BuiltSuite] = []
    for plan in plans:
        table = store.table(plan.entity)
        asset = datasource.add_table_asset(name=plan.name, table_name=table.name, schema_name=table.schema)
        batch = asset.add_batch_definition_whole_table(name=f"{plan.name}.all")
        suite = gx.ExpectationSuite(name=plan.name, notes=_notes(plan))
        expectations = {}
        for rule in plan.rules:
            expectations[rule.rule] = suite.add_expectation(rule.expectation(env))
        suite = context.suites.add(suite)
        validation = context.validation_definitions.add(gx.ValidationDefinition(name=plan.name, data=batch, suite=suite))
        built.append(BuiltSuite(plan, validation, expectations))
    return built

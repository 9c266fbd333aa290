"""What a validation run found, in logical names, identifiers and counts.

:class:`RuleOutcome` is one rule on one store: passed, failed (with the failing
record identifiers), could not be evaluated (``error``), or not run because the
store does not map what it reads (``skipped``, with the reason). A
:class:`QualityReport` gathers them for a store and a run; its :meth:`summary`
is what reaches XCom, the CLI and the published summary: counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

__all__ = ["PASSED", "FAILED", "ERROR", "SKIPPED", "RuleOutcome", "QualityReport"]

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"


@dataclass(frozen=True)
class RuleOutcome:
    """One rule's result on one store.

    ``unexpected`` counts failing rows as GX reports them; ``record_ids`` are
    the failing records' identifiers (sorted, distinct); ``unidentified`` counts
    failing rows whose identifier is missing or was not fetched (beyond
    ``max_ids_per_rule``): those cannot be quarantined.
    """

    rule: str
    dataset: str
    entity: str
    severity: str
    status: str
    unexpected: int = 0
    record_ids: tuple[str, ...] = ()
    unidentified: int = 0
    reason: str = ""

    @property
    def evaluated(self) -> bool:
        """The rule ran to the end and every failing record is known (safe to release others)."""
        return self.status in (PASSED, FAILED) and self.unidentified == 0

    def to_json(self) -> dict:
        data = {
            "rule": self.rule, "dataset": self.dataset, "entity": self.entity, "severity": self.severity,
            "status": self.status, "unexpected": self.unexpected, "unidentified": self.unidentified,
        }
        if self.reason:
            data["reason"] = self.reason
        return data


@dataclass
class QualityReport:
    """Every rule's outcome for one store and run."""

    store: str
    as_of: date
    run_id: str
    outcomes: list[RuleOutcome] = field(default_factory=list)

    def with_status(self, *statuses: str) -> list[RuleOutcome]:
        return [o for o in self.outcomes if o.status in statuses]

    def outcome(self, rule: str) -> RuleOutcome:
        for o in self.outcomes:
            if o.rule == rule:
                return o
        raise KeyError(f"no rule {rule!r} in the report for store {self.store}")

    def counts(self) -> dict[str, int]:
        failed = self.with_status(FAILED)
        return {
            "rules": len(self.outcomes),
            "rules_passed": len(self.with_status(PASSED)),
            "rules_failed": len(failed),
            "rules_errored": len(self.with_status(ERROR)),
            "rules_skipped": len(self.with_status(SKIPPED)),
            "failing_rows": sum(o.unexpected for o in failed),
            "findings": sum(o.unexpected for o in failed if o.severity == "report"),
            "unidentified": sum(o.unidentified for o in self.outcomes),
        }

    def summary(self) -> dict:
        """Counts, failing rules with their counts, skipped and errored rule names: no identifiers."""
        return {
            "store": self.store,
            "as_of": self.as_of.isoformat(),
            "counts": self.counts(),
            "failed_rules": {o.rule: o.unexpected for o in self.with_status(FAILED)},
            "errored_rules": [o.rule for o in self.with_status(ERROR)],
            "skipped_rules": [o.rule for o in self.with_status(SKIPPED)],
        }

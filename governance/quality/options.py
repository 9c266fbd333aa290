"""The knobs of a data-quality run, with the platform's defaults.

Everything a rule compares against is here and explicit: the ``as_of`` date
(never the clock, so a run can be repeated and tested), the dormancy period
and the age limits. The same options reach the CLI (flags), the DAG (params)
and the benchmark, so the three always validate the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from governance.errors import ConfigError

__all__ = ["QualityOptions", "years_before"]


def years_before(day: date, years: int) -> date:
    """``day`` moved back ``years`` calendar years; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


@dataclass(frozen=True)
class QualityOptions:
    """What one validation run compares against.

    ``as_of``: "today" for the rules (future dates, dormancy, ages).
    ``dormant_years``: an open case with no activity for this long is reported
    (it never reaches retention, because retention only acts on closed cases).
    ``max_age_years``: nobody's date of birth is further back than this.
    ``max_child_age_at_first_case``: a subject child is at most this old (in
    calendar years) when their first case opens; care leavers are supported
    up to 25, so older "children" are placeholders or keying errors.
    ``max_quarantined_share``: the store fails validation (no Asset, an alert)
    when more than this share of its cases is under quarantine: that many bad
    records points at a broken load or mapping, not at individual records.
    ``max_ids_per_rule``: failing identifiers fetched per rule; a rule with more
    failures than this cannot be fully quarantined, so the store fails.
    """

    as_of: date
    dormant_years: int = 3
    max_age_years: int = 120
    max_child_age_at_first_case: int = 25
    max_quarantined_share: float = 0.25
    max_ids_per_rule: int = 100_000

    def __post_init__(self) -> None:
        if not isinstance(self.as_of, date):
            raise ConfigError(f"as_of must be a date, not {type(self.as_of).__name__}")
        for name in ("dormant_years", "max_age_years", "max_child_age_at_first_case", "max_ids_per_rule"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= float(self.max_quarantined_share) <= 1.0:
            raise ConfigError(f"max_quarantined_share must be between 0 and 1, got {self.max_quarantined_share}")

    @property
    def dormant_cutoff(self) -> date:
        """Activity before this date is too old: the case is dormant."""
        return years_before(self.as_of, self.dormant_years)

    @property
    def oldest_birth_date(self) -> date:
        return years_before(self.as_of, self.max_age_years)

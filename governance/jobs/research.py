"""Jobs of the ``research_extracts`` DAG: plan, build, end, flag overdue.

Each takes :class:`~governance.config.Settings` and simple arguments and
returns identifiers, counts and object keys only (XCom). Alerts for the IG
team (an extract withheld, a study overdue) are single log lines on the
``governance.alerts`` logger, carrying study ids and counts.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Any

from governance.config import Settings

__all__ = ["plan", "build", "end", "overdue", "studies_folder", "parse_as_of"]

alerts = logging.getLogger("governance.alerts")


def _checkpoint(settings: Settings) -> None:
    """Sign the ledger head at the end of a job (docs/contributing.md)."""
    from governance.unit import Unit

    with Unit.open(settings) as unit:
        unit.ledger.checkpoint()


def parse_as_of(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


STUDIES_PREFIX = "research/studies/"


def studies_folder(settings: Settings) -> Path:
    """Specification files registered on every run: ``<home>/research/studies/*.toml|*.json``.

    On a distributed Airflow a worker's home is its own: specs there are seen by
    that worker only. A deployment (a key provider configured) also reads the
    shared place, object storage ``research/studies/`` (:func:`specs_in_objects`);
    the embedded default reads the folder only.
    """
    return settings.home / "research" / "studies"


def specs_in_objects(settings: Settings) -> list:
    """Study specs kept in object storage under ``research/studies/`` (TOML or JSON), in key order."""
    import json
    import tomllib

    from governance.research.spec import SpecError, parse_spec
    from governance.stores.seeding import open_objects

    objects = open_objects(settings)
    specs = []
    for key in sorted(objects.list(STUDIES_PREFIX)):
        suffix = Path(key).suffix.lower()
        if suffix not in (".toml", ".json"):
            continue
        try:
            text = objects.get(key).decode("utf-8")
            data = json.loads(text) if suffix == ".json" else tomllib.loads(text)
        except (UnicodeDecodeError, ValueError, tomllib.TOMLDecodeError) as exc:
            raise SpecError(f"study spec {key}: not valid {suffix.lstrip('.')} ({type(exc).__name__})") from None
        specs.append(parse_spec(data, source=key))
    return specs


def plan(settings: Settings, *, as_of: str | date, actor: str, register_demo: bool = False) -> dict[str, Any]:
    """Register new or changed specs (and the demo study if asked), then list what is due on ``as_of``."""
    from governance.research.demo import demo_spec
    from governance.research.schedule import due_studies
    from governance.research.spec import load_spec, parse_spec
    from governance.research.studies import register_study

    day = parse_as_of(as_of)
    specs = []
    folder = studies_folder(settings)
    if folder.is_dir():
        specs += [load_spec(p) for p in sorted(folder.iterdir()) if p.suffix.lower() in (".toml", ".json")]
    if not settings.embedded:  # a deployment: the specs every worker shares are in object storage
        specs += specs_in_objects(settings)
    if register_demo:
        specs.append(parse_spec(demo_spec(settings.stores[0].name), source="demo"))
    changed = [r["study_id"] for r in (register_study(settings, s, actor=actor, as_of=day) for s in specs) if r["changed"]]
    due = due_studies(settings, as_of=day)
    if changed:
        _checkpoint(settings)
    return {"as_of": day.isoformat(), "registered": changed, "build": due["build"], "end": due["end"]}


def build(settings: Settings, *, study_id: str, as_of: str | date, actor: str) -> dict[str, Any]:
    """Build one study's extract; a withheld extract is an alert, not a failure."""
    from governance.research.extracts import build_extract

    result = build_extract(settings, study_id, as_of=parse_as_of(as_of), actor=actor)
    result.pop("report", None)  # counts only in XCom; the full report is in research_extracts
    _checkpoint(settings)
    if result["status"] == "withheld":
        alerts.warning("GOVERNANCE RESEARCH EXTRACT WITHHELD study_id=%s extract_id=%s k_failing_classes=%d "
                       "l_failing_classes=%d", study_id, result["extract_id"], result["k_failing_classes"],
                       result["l_failing_classes"])
    return result


def end(settings: Settings, *, study_id: str, as_of: str | date, actor: str) -> dict[str, Any]:
    """Run one study's end action (anonymise or destroy) and certify it."""
    from governance.research.ending import end_study

    result = end_study(settings, study_id, as_of=parse_as_of(as_of), actor=actor)
    _checkpoint(settings)
    return result


def overdue(settings: Settings, *, as_of: str | date, actor: str, grace_days: int = 0) -> dict[str, Any]:
    """Flag studies past their end date and not ended; one alert line each."""
    from governance.research.schedule import flag_overdue

    found = flag_overdue(settings, as_of=parse_as_of(as_of), actor=actor, grace_days=grace_days)
    if any(item["newly_flagged"] for item in found):
        _checkpoint(settings)
    for item in found:
        alerts.warning("GOVERNANCE RESEARCH STUDY OVERDUE study_id=%s end_on=%s days_overdue=%d",
                       item["study_id"], item["end_on"], item["days_overdue"])
    return {"as_of": parse_as_of(as_of).isoformat(), "overdue": found, "count": len(found)}

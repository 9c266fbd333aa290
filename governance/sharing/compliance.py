"""One compliance run over one store: detect, fold into findings, record in the ledger.

:func:`detect` runs every applicable check of :mod:`governance.sharing.rules`
against the store (read-only, set-based). :func:`run_compliance` then, in one
:class:`~governance.unit.Unit` transaction, records the run, reconciles the
findings and appends the ledger entry: in the same transaction when the ledger
shares the state database, so findings and their audit record commit or roll
back together; otherwise just before the state commits (the run row keeps the
entry's seq).

The ledger entry (action ``sharing.compliance_checked``) carries counts per
rule and the keys (``<rule>:<record id>``) of the store's open findings, in
entries of at most :data:`IDS_PER_ENTRY` keys. Each part is appended once per
store and run id (:meth:`~governance.unit.Work.append_once_now`): a retry finds
its earlier entries and appends nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from governance.errors import ConfigError
from governance.sharing.findings import Detected, open_finding_keys, reconcile
from governance.sharing.policy import DEFAULT_PRIVACY_NOTICE_DAYS, RULE_CODES
from governance.sharing.rules import CHECKS, CheckContext
from governance.sharing.tables import runs
from governance.stores.store import CaseStore
from governance.unit import Unit

__all__ = ["Detection", "detect", "run_compliance", "ACTION", "IDS_PER_ENTRY"]

ACTION = "sharing.compliance_checked"
IDS_PER_ENTRY = 5000


@dataclass
class Detection:
    """What one store's checks found: detections, rules run, rules skipped and why."""

    store: str
    as_of: date
    detected: list[Detected] = field(default_factory=list)
    rules_run: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # rule -> reason (codes and entity names only)

    def counts(self) -> dict[str, int]:
        out = {rule: 0 for rule in self.rules_run}
        for d in self.detected:
            out[d.rule] += 1
        return out

    def ids(self, rule: str) -> list[str]:
        return sorted(d.record_id for d in self.detected if d.rule == rule)


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, str):  # SQLite hands back date() results as ISO text
        return date.fromisoformat(value[:10])
    return value


def detect(store: CaseStore, *, as_of: date, privacy_notice_days: int = DEFAULT_PRIVACY_NOTICE_DAYS) -> Detection:
    """Run every check the store's mapping supports; nothing is written."""
    if privacy_notice_days < 1:
        raise ConfigError("privacy_notice_days must be at least 1")
    ctx = CheckContext(as_of=as_of, privacy_notice_days=int(privacy_notice_days))
    result = Detection(store=store.name, as_of=as_of)
    with store.engine.connect() as conn:
        for check in CHECKS:
            missing = check.missing(store)
            if "missing_privacy_notice" in check.rules and "early_help" not in store.mapping.case_types:
                missing = ["case_type.early_help"]  # a store with no early-help work has no notice to give
            if missing:
                for rule in check.rules:
                    result.skipped[rule] = "not_mapped:" + ",".join(missing)
                continue
            result.rules_run.extend(check.rules)
            for partition in conn.execute(check.build(store, ctx)).partitions(5000):
                result.detected.extend(
                    Detected(row.rule, row.record_id, row.case_id, _as_date(row.event_on)) for row in partition
                )
    result.rules_run.sort(key=RULE_CODES.index)
    return result


def _ledger_events(detection: Detection, summary: dict[str, int], keys: list[str], *, actor: str, run_id: str,
                   privacy_notice_days: int) -> list[dict[str, Any]]:
    counts = {**summary, **{f"detected.{rule}": n for rule, n in detection.counts().items()}}
    parts = [keys[i:i + IDS_PER_ENTRY] for i in range(0, len(keys), IDS_PER_ENTRY)] or [[]]
    details = {"run_id": run_id, "as_of": detection.as_of.isoformat(), "privacy_notice_days": privacy_notice_days,
               "rules_run": list(detection.rules_run), "rules_skipped": sorted(detection.skipped)}
    return [
        dict(actor=actor, action=ACTION, store=detection.store, rule="sharing_compliance",
             reason="daily information-sharing and file-access compliance check; record ids are open finding keys",
             record_ids=part, counts=counts, details={**details, "part": n + 1, "parts": len(parts)})
        for n, part in enumerate(parts)
    ]


def run_compliance(
    store: CaseStore, *, unit: Unit, as_of: date, run_id: str, actor: str, at: datetime,
    privacy_notice_days: int = DEFAULT_PRIVACY_NOTICE_DAYS,
) -> dict[str, Any]:
    """Detect, reconcile and record one run for ``store``; returns counts and the ledger sequence number."""
    detection = detect(store, as_of=as_of, privacy_notice_days=privacy_notice_days)
    with unit.transaction() as work:
        conn = work.conn
        # Write first: on SQLite this takes the write lock before anything is read.
        conn.execute(runs.delete().where(runs.c.run_id == run_id, runs.c.store == store.name))
        conn.execute(runs.insert().values(run_id=run_id, store=store.name, as_of=as_of, checked_at=at, counts="{}"))
        summary = reconcile(conn, store=store.name, detected=detection.detected, rules_run=detection.rules_run,
                            run_id=run_id, as_of=as_of, at=at)
        keys = open_finding_keys(conn, store.name)
        events = _ledger_events(detection, summary, keys, actor=actor, run_id=run_id,
                                privacy_notice_days=privacy_notice_days)
        for event in events:
            seq = work.append_once_now(key=f"{store.name}:{run_id}:part{event['details']['part']}", **event)
        counts = {"by_rule": detection.counts(), **summary, "open_total": len(keys)}
        conn.execute(runs.update().where(runs.c.run_id == run_id, runs.c.store == store.name)
                     .values(counts=json.dumps(counts, sort_keys=True), ledger_seq=seq))
    return {
        "store": store.name, "as_of": as_of.isoformat(), "run_id": run_id, "ledger_seq": seq,
        "rules_run": detection.rules_run, "rules_skipped": sorted(detection.skipped), **counts,
    }

"""Data quality and eligibility agree on a case's history (issue 12 item 9, first point).

A case reopened and then closed again carries ``reopened_on`` before
``closed_on``: eligibility treats it as closed (due when its clocks run), so
data quality must not quarantine it, or it would be kept for ever. The defect
both flag is a reopening before the case was opened. The quality rules are run
here as the SQL Great Expectations runs (their ``unexpected_rows_query``), on
SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from expectations import dataset_rules
from governance.quality.options import QualityOptions
from governance.retention.eligibility import evaluate
from governance.retention.schedule import load_schedule
from governance.state import state_engine

AS_OF = date(2025, 6, 1)


def _failing(store, rule) -> set[str]:
    """The record ids a rule fails, by the SQL GX would run over the whole table as the batch."""
    text = rule.sql(store, QualityOptions(as_of=AS_OF))
    table = f"(SELECT * FROM {store.table(rule.entity).name})"
    text = text.replace("{batch}", table if "{batch} AS b" in text else f"{table} AS subselect")
    with store.engine.connect() as conn:
        return set(conn.execute(sa.text(text.replace("{{", "{").replace("}}", "}"))).scalars())


def test_reopened_then_closed_again_is_due_and_passes_quality_while_reopened_before_opening_fails_both(world):
    settings, b = world
    closed_again, _, _ = b.simple(opened=date(2016, 1, 12), reopened=date(2018, 4, 16), closed=date(2019, 11, 20))
    impossible, _, _ = b.simple(opened=date(2018, 5, 1), reopened=date(2017, 3, 1), closed=date(2019, 2, 1))
    decisions = {d.case_id: d for d in evaluate(b.store, state_engine(settings), load_schedule(), AS_OF)}
    assert (decisions[closed_again].status, decisions[closed_again].due_on) == ("due", date(2024, 11, 20))
    assert decisions[impossible].reasons == ("IMPLAUSIBLE_DATE:reopened_before_opened",)

    failed = {rule.rule: _failing(b.store, rule) for rule in dataset_rules("cases") if rule.severity == "quarantine"}
    assert not {name for name, ids in failed.items() if closed_again in ids}
    assert {name for name, ids in failed.items() if impossible in ids} == {"case.reopened_on.not_before_opened_on"}

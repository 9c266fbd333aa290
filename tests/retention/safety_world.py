"""Helpers for the retention-safety tests: hand-written case histories, the CLI on the test's world.

The families below are fictional, written the way an early-help worker writes;
phone numbers are in Ofcom's drama range, e-mails at example.org.
"""

from __future__ import annotations

import contextlib
import io
from datetime import date, datetime, timezone

import sqlalchemy as sa

from governance.cli import main
from governance.keys import KeyStore
from governance.ledger import Ledger
from governance.retention import tables
from governance.state import state_engine
from governance.stores.seeding import open_objects
from governance.stores.store import CaseStore

NOTES = {
    "early_help": [
        "Home visit. Mum says the boiler has been off since October; referred to the council's warm-homes fund. "
        "Call back on 01632 960417.",
        "Team-around-the-family meeting at school. Attendance up to 91%. Family agree to close: needs met.",
    ],
    "child_in_need": [
        "Section 17 assessment completed. Dad caring alone since mum's admission; respite through the carers' "
        "centre agreed.",
        "Closing summary sent to dad by e-mail (family.contact@example.org).",
    ],
}


def note(builder, case_id: str, written_on: date, text: str) -> None:
    builder._insert("casenote", {"id": builder._id("N"), "case_id": case_id, "written_on": written_on,
                                 "title": "Case note", "body": text})


def case_history(builder, case_type: str = "early_help", *, opened: date, closed: date | None,
                 child_dob: date = date(2011, 2, 14), **extra) -> tuple[str, str, str]:
    """One family: a child and a parent on one case, with two notes in a worker's voice."""
    case_id, child, parent = builder.simple(case_type, child_dob=child_dob, opened=opened, closed=closed, **extra)
    for n, text in enumerate(NOTES.get(case_type, NOTES["early_help"])):
        note(builder, case_id, opened if n == 0 else (closed or opened), text)
    return case_id, child, parent


def write_documents(settings, builder) -> None:
    objects = open_objects(settings)
    for key in builder.documents.values():
        objects.put(key, b"Scanned consent form (fictional)")


def documents_of(settings, builder, case_id: str) -> list[str]:
    objects = open_objects(settings)
    return [k for k in builder.documents.values() if f"/{case_id}/" in k and objects.versions(k)]


def at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=timezone.utc)


def case_exists(settings, case_id: str) -> bool:
    store = CaseStore.open(settings.store("default"))
    try:
        with store.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(store.table("case"))
                                .where(store.raw("case", "id") == case_id)).scalar_one() == 1
    finally:
        store.engine.dispose()


def ledger_entries(settings, batch_id: str | None = None, *, verify: bool = True) -> list:
    ledger = Ledger.open(settings.ledger_url, KeyStore(settings.keys_dir))
    try:
        assert not verify or ledger.verify().ok
        return [e for e in ledger.entries() if batch_id is None or e.details.get("batch_id") == batch_id]
    finally:
        ledger.close()


def items(settings, batch_id: str) -> dict[str, tuple[str, str | None]]:
    with state_engine(settings).connect() as conn:
        return {c: (s, r) for c, s, r in conn.execute(
            sa.select(tables.batch_items.c.case_id, tables.batch_items.c.state, tables.batch_items.c.skip_reason)
            .where(tables.batch_items.c.batch_id == batch_id))}


def cli_env(monkeypatch, settings) -> None:
    """Point the command line at the test's world (store, state, ledger, objects, keys)."""
    monkeypatch.setenv("GOVERNANCE_HOME", str(settings.home))
    monkeypatch.setenv("GOVERNANCE_STORE_DEFAULT_URL", settings.stores[0].url)
    monkeypatch.setenv("GOVERNANCE_LEDGER_URL", settings.ledger_url)
    monkeypatch.setenv("GOVERNANCE_STATE_URL", settings.state_database_url)
    monkeypatch.setenv("GOVERNANCE_OBJECTS_URL", settings.objects_url)
    monkeypatch.setenv("GOVERNANCE_KEYS_DIR", str(settings.keys_dir))


def run_cli(*argv: str) -> tuple[int, str, str]:
    """``governance ARGV`` in this process: (exit code, stdout, stderr). A traceback would fail the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()

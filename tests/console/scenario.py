"""A small store the console is tried on: every page has something to show, and canaries to look for.

The synthetic generator makes the families; on top, hand-written rows plant
**canary strings** (a surname, an address, a phone number, words in a
casenote) that must appear on no page except an access request's own review
and preview, and in no log. One canary family is the subject of an access
request (so the preview must show it: the canary test can fail); another is
not (it must appear nowhere at all).

Then the platform's own jobs run, as the DAGs would: data quality (quarantine,
Data Docs), sharing compliance (findings), one retention sweep to a
certificate, a second batch left awaiting review, a hold, and an access
request searched, redacted and waiting for review.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from governance.config import Settings, StoreConfig, sqlite_url

AS_OF = date(2026, 6, 30)  # the generator's fixed "today"
SECOND_AS_OF = date(2026, 12, 1)
SUBJECT = "P000000000"
CANARIES = ("Quarrendon", "Wickerbrae", "01632 960417", "Pimblewick", "Velmoravic", "v.quarrendon@example.org")
SUBJECT_CANARIES = ("Quarrendon", "Pimblewick")  # the subject's own data: shown in their request's preview


@dataclass
class Scenario:
    settings: Settings
    request_id: str
    certified_batch: str
    awaiting_batch: str | None
    hold_id: str
    other_person: str
    counts: dict = field(default_factory=dict)


def make_settings(home: Path) -> Settings:
    return Settings(home=home, stores=(StoreConfig("default", sqlite_url(home / "stores" / "default.db")),),
                    ledger_url=sqlite_url(home / "ledger.db"), objects_url=(home / "objects").as_uri(),
                    keys_dir=home / "keys")


def plant_canaries(database: Path) -> str:
    """Write the canaries into the store; returns the other family's canary person."""
    with sqlite3.connect(database) as db:
        db.execute("UPDATE people SET family_name = 'Quarrendon', email = 'v.quarrendon@example.org' "
                   "WHERE person_id = ?", (SUBJECT,))
        family = db.execute("SELECT family_id FROM people WHERE person_id = ?", (SUBJECT,)).fetchone()[0]
        mother = db.execute("SELECT person_id FROM people WHERE family_id = ? AND role = 'parent_carer' "
                            "ORDER BY person_id LIMIT 1", (family,)).fetchone()[0]
        db.execute("UPDATE people SET address = '3 Wickerbrae Close, Lower Fenwick', phone = '01632 960417' "
                   "WHERE person_id = ?", (mother,))
        # A plain note (no police, third-party or restricted flag): it goes out, so the preview must show it.
        note = db.execute("SELECT casenote_id FROM casenotes WHERE case_id IN (SELECT case_id FROM case_members "
                          "WHERE person_id = ?) AND NOT police_intelligence AND NOT third_party_information "
                          "AND NOT restricted_disclosure ORDER BY casenote_id LIMIT 1", (SUBJECT,)).fetchone()[0]
        db.execute("UPDATE casenotes SET body = body || ' Home visit: Ethan showed me the budgie he calls Pimblewick; "
                   "he was proud of the cage he cleaned.' WHERE casenote_id = ?", (note,))
        other = db.execute(
            "SELECT p.person_id FROM people p JOIN case_members m ON m.person_id = p.person_id "
            "JOIN cases c ON c.case_id = m.case_id WHERE p.family_id <> ? AND c.closed_on IS NULL "
            "AND p.role = 'parent_carer' ORDER BY p.person_id LIMIT 1", (family,)).fetchone()[0]
        db.execute("UPDATE people SET family_name = 'Velmoravic' WHERE person_id = ?", (other,))
        db.execute("UPDATE casenotes SET body = body || ' Mr Velmoravic rang in about the school run.' "
                   "WHERE case_id IN (SELECT case_id FROM case_members WHERE person_id = ?)", (other,))
    return other


def build(home: Path, *, families: int = 40, seed: int = 7, quality: bool = True) -> Scenario:
    from governance.jobs import retention, sar, sharing
    from governance.retention.holds import place_hold
    from governance.state import state_engine
    from governance.stores.seeding import seed_store

    settings = make_settings(home)
    seed_store(settings, families=families, seed=seed)
    other = plant_canaries(home / "stores" / "default.db")
    if quality:
        from governance.jobs.quality import validate_store

        validate_store(settings, store="default", as_of=AS_OF, run_id="scheduled__2026-06-30T02:00:00+00:00",
                       actor="airflow:data_quality")
    sharing.check_store(settings, store="default", as_of=AS_OF, run_id="scheduled__2026-06-30T03:00:00+00:00",
                        actor="airflow:sharing_compliance")
    lodged = sar.lodge_request(settings, store="default", subject_person_id=SUBJECT, received_on=date(2026, 11, 20),
                               actor="records.manager", request_id="sar-console-0001")
    sar.discover_request(settings, lodged["request_id"])
    sar.redact_request(settings, lodged["request_id"])
    sar.prepare_review(settings, lodged["request_id"])
    proposed = retention.propose(settings, "default", as_of=AS_OF, created_by="ig.proposer")
    batch = proposed["batch_id"]
    retention.approve(settings, batch, approved_by="ig.approver", note="checked against the schedule")
    retention.execute_all(settings, batch, as_of=AS_OF, actor="airflow:retention_sweep")
    retention.verify(settings, batch, actor="airflow:retention_sweep")
    retention.certify(settings, batch, actor="airflow:retention_sweep")
    second = retention.propose(settings, "default", as_of=SECOND_AS_OF, created_by="ig.proposer")
    hold = place_hold(state_engine(settings), kind="litigation", source="Family Court, Northcombe",
                      reason="care proceedings: keep the family's file", scope={"family_ids": ["F0000003"]},
                      placed_on=date(2026, 5, 1), review_on=date(2026, 11, 1), placed_by="ig.lead")
    return Scenario(settings, lodged["request_id"], batch, second["batch_id"], hold.hold_id, other,
                    {"due": proposed["due"], "second_due": second["due"]})

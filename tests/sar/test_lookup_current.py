"""The store-wide people lookup, cut to what a request's texts could name, is complete and never stale.

``request_people`` (governance/sar/mentions.py) keeps of everyone the store records only those a
request's texts could name, read afresh at every build. Two things must hold:
the redactions equal those of the full lookup (every person profiled), and a person added to the
store, or renamed in it, after a first build is redacted by the next build.
"""

from __future__ import annotations

from datetime import date

import pytest

from governance.sar.discovery import discover
from governance.sar.people import KnownPeople, request_people, store_people
from governance.sar.redaction import RedactionContext, redact_records
from governance.stores.seeding import open_objects, seed_store
from governance.stores.store import CaseStore

SUBJECT = "P000000000"
NOTE = "Mum said Quillon Bramblewick stayed over on Friday; Zephyrine Okafor-Lunt rang about it."


@pytest.fixture
def store_and_objects(sqlite_settings):
    seed_store(sqlite_settings, families=12, seed=5, clean=True)
    store = CaseStore.open(sqlite_settings.store("default"))
    with store.engine.connect() as conn:
        case_id = conn.execute(store.select("case_member", ["case_id"]).where(
            store.raw("case_member", "person_id") == SUBJECT).limit(1)).scalar_one()
    with store.engine.begin() as conn:
        store.insert(conn, "casenote", [{"id": f"{case_id}-LOOKUP", "case_id": case_id, "written_on": date(2026, 1, 5),
                                         "title": "Home visit", "body": NOTE, "police_intelligence": False,
                                         "third_party_information": False, "restricted_disclosure": False}])
    yield store, open_objects(sqlite_settings)
    store.engine.dispose()


def _redacted(store, objects, people_of) -> dict:
    found = discover(store, objects, SUBJECT)
    result = redact_records(found.records, RedactionContext(people_of(found)))
    texts = {r.key: r.fields for r in found.records}
    return {key: sorted((r.field, texts[key].get(r.field, "")[r.start:r.end], r.rule) for r in items)
            for key, items in result.items()}


def _lookup_note(result: dict) -> list[str]:
    return [text for (entity, rid), items in result.items() if rid.endswith("-LOOKUP") for _, text, _ in items]


def test_cut_lookup_redacts_exactly_what_the_full_lookup_does(store_and_objects) -> None:
    store, objects = store_and_objects
    with store.engine.begin() as conn:  # a note naming another family's adult by every identifier
        subject_family = conn.execute(store.select("person", ["family_id"]).where(
            store.raw("person", "id") == SUBJECT)).scalar_one()
        other = conn.execute(store.select("person").where(store.raw("person", "family_id") != subject_family)
                             .where(store.raw("person", "phone").is_not(None))
                             .where(store.raw("person", "address").is_not(None)).limit(1)).mappings().one()
        case_id = conn.execute(store.select("case_member", ["case_id"]).where(
            store.raw("case_member", "person_id") == SUBJECT).limit(1)).scalar_one()
        body = (f"{other['given_name']} {other['family_name']} came by; lives at {other['address'].split(',')[0]}, "
                f"phone {other['phone']}, {other['email'] or ''}, DOB {other['date_of_birth']:%d/%m/%Y}.")
        store.insert(conn, "casenote", [{"id": f"{case_id}-OTHER", "case_id": case_id, "written_on": date(2026, 1, 6),
                                         "title": "Visit", "body": body, "police_intelligence": False,
                                         "third_party_information": False, "restricted_disclosure": False}])
    full = _redacted(store, objects, lambda f: KnownPeople(f.subject, f.people, f.professionals,
                                                           others=store_people(store)))
    cut = _redacted(store, objects, lambda f: request_people(store, f))
    assert sum(len(v) for v in full.values()) > 20
    named = {rule for (_, rid), items in full.items() if rid.endswith("-OTHER") for _, _, rule in items}
    assert {"known_person_name", "known_person_address", "known_person_phone", "known_person_dob"} <= named, named
    assert cut == full


def _person(pid: str, family: str, given: str, surname: str) -> dict:
    return {"id": pid, "family_id": family, "role": "other_adult", "given_name": given, "family_name": surname,
            "date_of_birth": date(1988, 4, 2), "address": "77 Orrin Way, Fenwick"}


def test_a_person_added_or_renamed_after_a_build_is_redacted_in_the_next(store_and_objects) -> None:
    store, objects = store_and_objects
    people_of = lambda f: request_people(store, f)  # noqa: E731
    first = _lookup_note(_redacted(store, objects, people_of))
    assert not any("Bramblewick" in t or "Okafor-Lunt" in t for t in first)  # nobody the store knows, no cue

    with store.engine.begin() as conn:  # another family's new member, entered after the first build
        store.insert(conn, "person", [_person("P999990001", "F9999", "Quillon", "Bramblewick")])
    second = _lookup_note(_redacted(store, objects, people_of))
    assert "Quillon Bramblewick" in second

    with store.engine.begin() as conn:  # an existing person of another family renamed (a row profiled before)
        other = conn.execute(store.select("person", ["id"]).where(store.raw("person", "family_id") != "F9999")
                             .where(store.raw("person", "id") != SUBJECT).order_by(store.raw("person", "id").desc())
                             .limit(1)).scalar_one()
        conn.execute(store.table("person").update().where(store.raw("person", "id") == other).values(
            {store.raw("person", "given_name").name: "Zephyrine", store.raw("person", "family_name").name: "Okafor-Lunt"}))
    third = _lookup_note(_redacted(store, objects, people_of))
    assert "Zephyrine Okafor-Lunt" in third and "Quillon Bramblewick" in third

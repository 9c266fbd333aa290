"""Destruction never leaves a kept case pointing at a deleted row (issue 12 item 10).

A person or household goes with a due case only when nothing kept refers to
it: a professional who wrote a note on a kept case, a relative on another
household's kept case, whoever signed a kept consent, a household one of whose
members is kept. Run on SQLite and PostgreSQL through a whole sweep.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from governance.jobs import retention as jobs
from governance.stores.store import CaseStore

AS_OF = date(2025, 6, 1)


def _exists(settings, entity: str, record_id: str) -> bool:
    store = CaseStore.open(settings.store("default"))
    with store.engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(store.table(entity))
                         .where(store.raw(entity, "id") == record_id)).scalar_one()
    store.engine.dispose()
    return n == 1


def test_people_and_households_referred_to_by_kept_cases_survive_a_sweep(world):
    settings, b = world
    due_family = b.family()
    child = b.person(due_family, "subject_child", dob=date(2011, 1, 1))
    mum = b.person(due_family, "parent_carer", dob=date(1984, 1, 1))
    brother = b.person(due_family, "family_member", dob=date(2004, 1, 1))  # now a young dad elsewhere
    signer = b.person(due_family, "family_member", dob=date(1960, 1, 1))  # grandmother, signed a kept consent
    health_visitor = b.person(None, "professional", dob=date(1975, 1, 1))
    due = b.case(due_family, closed=date(2018, 1, 31), members=((child, "subject_child"), (mum, "parent_carer"),
                                                                 (brother, "family_member"),
                                                                 (health_visitor, "professional")))
    kept_family = b.family()
    baby = b.person(kept_family, "subject_child", dob=date(2024, 1, 1))
    kept = b.case(kept_family, opened=date(2024, 2, 1), closed=None,
                  members=((baby, "subject_child"), (brother, "parent_carer")))
    with b.store.engine.begin() as conn:
        b.store.insert(conn, "casenote", [{"id": "N-hv", "case_id": kept, "author_id": health_visitor,
                                           "written_on": date(2024, 3, 1), "title": "Joint visit",
                                           "body": "Joint visit with the health visitor."}])
        b.store.insert(conn, "consent", [{"id": "K-gran", "family_id": kept_family, "case_id": kept,
                                          "given_by": signer, "given_on": date(2024, 2, 1),
                                          "consent_to_approach": True, "consent_to_share": True}])
    proposed = jobs.propose(settings, "default", as_of=AS_OF, created_by="ig.alice")
    assert proposed["due"] == 1
    jobs.approve(settings, proposed["batch_id"], approved_by="ig.bob")
    executed = jobs.execute_all(settings, proposed["batch_id"], as_of=AS_OF, actor="ig.bob")
    assert executed["cases"] == 1 and not _exists(settings, "case", due)

    assert not _exists(settings, "person", child) and not _exists(settings, "person", mum)
    assert _exists(settings, "person", health_visitor), "author of a note on a kept case"
    assert _exists(settings, "person", brother), "member of a kept case"
    assert _exists(settings, "person", signer), "signed a kept consent"
    assert _exists(settings, "family", due_family), "household of kept people"
    assert _exists(settings, "case", kept) and _exists(settings, "family", kept_family)
    assert jobs.verify(settings, proposed["batch_id"], actor="ig.bob")["ok"]


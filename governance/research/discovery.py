"""Which studies hold a person: for subject access requests.

A person's pseudonym in a study is ``HMAC(study key, store/person/id)``, so
the only way to find them is to recompute it with each live study's key and
look it up in that study's member index (``research_members``). Once a study
ends, its key and index are gone and the person is, correctly, not found: what
remains (an anonymised aggregate, if any) is not personal data.

Studies whose key cannot be unwrapped here (a key manager that is not
reachable) raise rather than silently answer "none": an access request must not
be told a search was complete when it was not.
"""

from __future__ import annotations

import sqlalchemy as sa

from governance.config import Settings
from governance.research import tables as t
from governance.research.pseudonym import Pseudonymiser
from governance.research.studykeys import load_study_key
from governance.state import state_engine

__all__ = ["studies_containing"]


def studies_containing(settings: Settings, store_name: str, person_id: str) -> list[str]:
    """Ids of studies whose stored extracts include ``person_id`` of store ``store_name``, sorted."""
    found = []
    with state_engine(settings).connect() as conn:
        live = conn.execute(
            sa.select(t.studies.c.study_id).where(t.studies.c.store == store_name, t.studies.c.status != "ended",
                                                  sa.exists().where(t.keys.c.study_id == t.studies.c.study_id))
            .order_by(t.studies.c.study_id)).scalars().all()
        for study_id in live:
            key = load_study_key(conn, settings, study_id)
            member = Pseudonymiser(key.pseudonym_key, store_name).one("person", person_id)
            hit = conn.execute(sa.select(t.members.c.extract_id).where(
                t.members.c.study_id == study_id, t.members.c.member == member).limit(1)).first()
            if hit is not None:
                found.append(study_id)
    return found

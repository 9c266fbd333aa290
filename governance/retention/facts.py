"""What eligibility needs to know about cases, read set-based from a store.

Queries per window of cases: the cases' own fields, their subject children's
dates, and (only for the case types whose rule counts activity) the dates of
recorded contact on them. Fields a store does not map (e.g. a Home-Start store
keeps no reopening dates) read as NULL.

Every stored date goes through the one reading rule,
:func:`governance.stores.values.read_date` (DATE, DATETIME and TIMESTAMP
columns; ISO date and date-time text), in Python, never compared as text in
SQL: on SQLite ``'2021-06-30 00:00:00' > '2021-06-30'`` and ``'30/06/2021' >
'2021-07-01'`` as strings. A value that is present but unreadable is recorded
in :attr:`CaseFacts.unreadable` as a reason code (the field then reads as
None) and eligibility excludes the case (``UNREADABLE_DATE:<entity.field>``,
``UNREADABLE_VALUE:<entity.field>`` for a flag): one bad row never stops the
store, and nothing is destroyed on a guess.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Iterable

import sqlalchemy as sa

from governance.db import IdSet, chunked, one_of
from governance.stores.store import CaseStore
from governance.stores.values import UNREADABLE, read_bool, read_date

__all__ = ["CaseFacts", "load_facts", "load_links", "links_around", "FACTS_BATCH", "CONTACT_SOURCES"]

# Ids per query when facts are read for a subset: bound as one value (governance.db.one_of),
# so the size bounds memory per round trip, not a parameter limit.
FACTS_BATCH = 5000

_DATE_FIELDS = ("opened_on", "closed_on", "reopened_on", "last_activity_on", "order_date")
_BOOL_FIELDS = ("csa_relevant", "child_protection_concerns", "social_care_involvement")
_CASE_FIELDS = (
    "id", "family_id", "case_type", "status", *_DATE_FIELDS[:3], "re_referral_of", *_DATE_FIELDS[3:],
    *_BOOL_FIELDS, "allegation_outcome", "closure_reason",
)
# Recorded contact on a case, dated: a note (visits, calls, meetings are written up as notes), a
# document received or written, a share with another agency. Reading the file (access_log) is not
# contact with the family and does not restart a clock.
CONTACT_SOURCES = (("casenote", "written_on"), ("document", "created_on"), ("sharing_record", "shared_on"))

# Dates repeat (there are ~37,000 days in a century): one parse per distinct stored value.
_read_date = lru_cache(maxsize=1 << 16)(read_date)


@dataclass(slots=True)
class CaseFacts:
    id: str
    family_id: str | None
    case_type: str
    status: str
    opened_on: date | None
    closed_on: date | None
    reopened_on: date | None
    re_referral_of: str | None
    last_activity_on: date | None
    order_date: date | None
    csa_relevant: bool | None
    child_protection_concerns: bool | None
    social_care_involvement: bool | None
    allegation_outcome: str | None
    closure_reason: str | None
    # (date of birth, date of death) of each subject child; None where not recorded or unreadable.
    child_dates: list[tuple[date | None, date | None]] = field(default_factory=list)
    last_contact_on: date | None = None  # latest dated contact (CONTACT_SOURCES), when read
    # Reason codes for values present but unreadable ("UNREADABLE_DATE:person.date_of_birth"), in order, once each.
    unreadable: list[str] = field(default_factory=list)
    duplicate_id: bool = False  # another case row carries the same id

    @property
    def children(self) -> int:
        return len(self.child_dates)

    @property
    def children_without_dob(self) -> int:
        return sum(1 for born, _ in self.child_dates if born is None)

    @property
    def youngest_dob(self) -> date | None:
        return max((born for born, _ in self.child_dates if born is not None), default=None)

    @property
    def oldest_dob(self) -> date | None:
        return min((born for born, _ in self.child_dates if born is not None), default=None)

    @property
    def child_deaths(self) -> list[tuple[date | None, date]]:
        return [(born, died) for born, died in self.child_dates if died is not None]


def _col(store: CaseStore, entity: str, name: str) -> sa.ColumnElement:
    if not store.has_field(entity, name):
        return sa.null().label(name)
    if name in _DATE_FIELDS or name in _BOOL_FIELDS:
        # The stored value as the driver gives it (text on SQLite): read by governance.stores.values.
        return sa.type_coerce(store.raw(entity, name), sa.String()).label(name)
    return store.column(entity, name)


def _raw(store: CaseStore, entity: str, name: str) -> sa.ColumnElement:
    return sa.type_coerce(store.raw(entity, name), sa.String()) if store.has_field(entity, name) else sa.null()


def _case(row) -> CaseFacts:
    values = row._asdict()
    bad = []
    for names, read, code in ((_DATE_FIELDS, _read_date, "UNREADABLE_DATE"), (_BOOL_FIELDS, read_bool, "UNREADABLE_VALUE")):
        for name in names:
            values[name] = read(values[name])
            if values[name] is UNREADABLE:
                bad.append(f"{code}:case.{name}")
                values[name] = None
    facts = CaseFacts(**values)
    facts.unreadable.extend(bad)
    return facts


def load_links(store: CaseStore) -> list[tuple[str, str | None]]:
    """(case id, case it re-refers) for every case: cheap, two columns."""
    query = sa.select(store.raw("case", "id"), _col(store, "case", "re_referral_of"))
    with store.engine.connect() as conn:
        return [(row[0], row[1]) for row in conn.execute(query) if row[0] is not None]


def links_around(store: CaseStore, case_ids: Iterable[str]) -> list[tuple[str, str | None]]:
    """The re-referral links of the given cases' whole chains, walked outwards in both directions.

    Cost follows the chains' size, not the store's: a chunk re-check reads a few
    indexed rows instead of every case.
    """
    if not store.has_field("case", "re_referral_of"):
        return [(c, None) for c in case_ids]
    case_id, previous = store.raw("case", "id"), store.raw("case", "re_referral_of")
    seen: set[str] = set(case_ids)
    frontier = set(seen)
    links: dict[str, str | None] = {}
    with store.engine.connect() as conn:
        while frontier:
            found: set[str] = set()
            for batch in chunked(sorted(frontier), FACTS_BATCH):
                ids = IdSet(batch)
                query = sa.select(case_id, previous).where(sa.or_(one_of(case_id, ids, conn.dialect.name),
                                                                  one_of(previous, ids, conn.dialect.name)))
                for cid, prev in conn.execute(query):
                    if cid is None:  # a row without an id links nothing (it is reported as MISSING_ID)
                        continue
                    links[cid] = prev
                    found.update(x for x in (cid, prev) if x)
            frontier = found - seen
            seen |= found
    return sorted(links.items())



def load_facts(store: CaseStore, case_ids: Iterable[str] | None = None, *,
               contact_types: Iterable[str] = ()) -> dict[str, CaseFacts]:
    """Facts for the given cases (every case with an id when None).

    ``contact_types``: case types whose clocks count activity; their recorded
    contact (:data:`CONTACT_SOURCES`) is read into ``last_contact_on``.
    """
    facts: dict[str, CaseFacts] = {}
    contact_types = frozenset(contact_types)
    batches: Iterable[IdSet | None] = ([None] if case_ids is None
                                       else (IdSet(batch) for batch in chunked(case_ids, FACTS_BATCH)))
    with store.engine.connect() as conn:
        for batch in batches:
            case_id = store.raw("case", "id")
            query = sa.select(*(_col(store, "case", f) for f in _CASE_FIELDS))
            query = query.where(case_id.is_not(None) if batch is None else one_of(case_id, batch, conn.dialect.name))
            counting_activity = []
            for row in conn.execute(query):
                case = _case(row)
                if case.id in facts:  # two rows, one id: neither can be acted on by id
                    facts[case.id].duplicate_id = True
                    continue
                facts[case.id] = case
                if case.case_type in contact_types:
                    counting_activity.append(case.id)
            _add_children(store, conn, facts, batch)
            _add_contact(store, conn, facts, counting_activity)
    return facts


def _add_children(store: CaseStore, conn: sa.Connection, facts: dict[str, CaseFacts], batch: IdSet | None) -> None:
    """Each subject child's dates of birth and death, read row by row (no SQL MAX over text dates)."""
    member_case = store.raw("case_member", "case_id")
    joined = store.table("case_member").join(store.table("person"),
                                             store.raw("case_member", "person_id") == store.raw("person", "id"))
    is_child = store.is_("case_member", "role", "subject_child")
    in_scope = is_child if batch is None else sa.and_(is_child, one_of(member_case, batch, conn.dialect.name))
    query = sa.select(member_case, _raw(store, "person", "date_of_birth"), _raw(store, "person", "date_of_death"))
    for case_id, born, died in conn.execute(query.select_from(joined).where(in_scope)):
        case = facts.get(case_id)
        if case is None:
            continue
        born, died = _read_date(born), _read_date(died)
        if born is UNREADABLE:
            _note_unreadable(case, "person.date_of_birth")
            born = None
        if died is UNREADABLE:
            _note_unreadable(case, "person.date_of_death")
            died = None
        case.child_dates.append((born, died))


def _note_unreadable(case: CaseFacts, where: str) -> None:
    code = f"UNREADABLE_DATE:{where}"
    if code not in case.unreadable:
        case.unreadable.append(code)


def _add_contact(store: CaseStore, conn: sa.Connection, facts: dict[str, CaseFacts], case_ids: list[str]) -> None:
    """The latest dated contact on each case, from every dated row (not a SQL MAX over text dates)."""
    if not case_ids:
        return
    ids = IdSet(case_ids)
    for entity, name in CONTACT_SOURCES:
        if not store.has_field(entity, name):
            continue
        owner = store.raw(entity, "case_id")
        query = sa.select(owner, _raw(store, entity, name)).where(one_of(owner, ids, conn.dialect.name))
        for case_id, value in conn.execute(query):
            day = _read_date(value)
            case = facts[case_id]
            if day is UNREADABLE:
                _note_unreadable(case, f"{entity}.{name}")
            elif day is not None and (case.last_contact_on is None or day > case.last_contact_on):
                case.last_contact_on = day

"""One fictional family: its people, cases, notes, documents, consents, shares and access log.

:func:`build_family` is a pure function of (family index, seed, context): the
same inputs give the same rows, whatever else was generated before, which is
what makes the generator deterministic and streamable.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from governance.stores.model import AGENCIES, OVERRIDE_REASONS
from governance.stores.synthetic import identifiers as ident
from governance.stores.synthetic import vocab
from governance.stores.synthetic.notes import NoteWriter
from governance.stores.synthetic.plan import CONSENT_BASED

__all__ = ["Professional", "FamilyContext", "FamilyRows", "build_family"]

CONSENT_BASED_TYPES = ("early_help", "home_start")
_WEIGHTS_LA = (("early_help", 45), ("child_in_need", 27), ("child_protection", 13), ("looked_after", 10), ("adoption", 5))


@dataclass(frozen=True)
class Professional:
    id: str
    given_name: str
    family_name: str
    job: str
    organisation: str

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


@dataclass(frozen=True)
class FamilyContext:
    seed: int
    as_of: date
    case_types: tuple[str, ...]
    professionals: tuple[Professional, ...]
    object_prefix: str
    records_reopening: bool = True  # the store maps case.reopened_on


@dataclass
class FamilyRows:
    rows: dict[str, list[dict]] = field(default_factory=dict)
    documents: list[tuple[str, bytes]] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)  # kind -> affected record ids
    tally: Counter = field(default_factory=Counter)

    def add(self, entity: str, row: dict) -> dict:
        self.rows.setdefault(entity, []).append(row)
        return row

    def problem(self, kind: str, record_id: str) -> None:
        self.problems.setdefault(kind, []).append(record_id)


def _between(rng: random.Random, start: date, end: date) -> date:
    if end <= start:
        return start
    return start + timedelta(days=rng.randrange((end - start).days + 1))


def _years(n: float) -> timedelta:
    return timedelta(days=round(365.25 * n))


def _pick_case_type(rng: random.Random, case_types: tuple[str, ...]) -> str:
    weighted = [(t, w) for t, w in _WEIGHTS_LA if t in case_types] or [(case_types[0], 1)]
    return rng.choices([t for t, _ in weighted], weights=[w for _, w in weighted])[0]


def build_family(index: int, ctx: FamilyContext, problem: str | None) -> FamilyRows:
    rng = random.Random(f"family:{ctx.seed}:{index}")
    out = FamilyRows()
    fid = f"F{index:07d}"
    surname = rng.choice(vocab.FAMILY_NAMES)
    town = rng.choice(vocab.TOWNS)
    address = f"{rng.randint(1, 180)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_KINDS)}, {town}"
    family_postcode = ident.postcode(rng)
    out.add("family", {"id": fid, "household_name": f"{surname} household", "address": address, "postcode": family_postcode})

    consent_first = problem in CONSENT_BASED
    consent_types = [t for t in ctx.case_types if t in CONSENT_BASED_TYPES]
    force_closed = problem in {"missing_closure_date", "closure_before_opening", "future_closure_date", "closed_without_reason"}
    horizon = ctx.as_of - _years(15)
    first_open = _between(rng, horizon, ctx.as_of - (_years(4) if force_closed else timedelta(days=30)))
    if problem == "dormant_open_case":
        first_open = _between(rng, horizon, ctx.as_of - _years(8))

    people = _make_people(rng, index, fid, surname, address, family_postcode, first_open, ctx, out)
    children = [p for p in people if p["role"] == "subject_child"]
    if problem == "implausible_birth_date":
        children[0]["date_of_birth"] = date(1900, 1, 1)
        out.problem(problem, children[0]["id"])

    notes = NoteWriter(rng, people, ctx.professionals)
    episodes = rng.choices((1, 2, 3), weights=(60, 30, 10))[0]
    previous: dict | None = None
    opened = first_open
    for episode in range(episodes):
        if episode > 0:
            assert previous is not None
            if previous["status"] != "closed" or previous["closed_on"] is None:
                break
            opened = previous["closed_on"] + timedelta(days=rng.randint(30, 1100))
            if opened >= ctx.as_of:
                break
        if episode == 0 and consent_first and consent_types:
            case_type = consent_types[0]
        else:
            case_type = _pick_case_type(rng, ctx.case_types)
        case = _make_case(rng, index, episode, fid, case_type, opened, previous, ctx, force_closed and episode == 0)
        if episode == 0 and problem == "dormant_open_case":
            case.update(status="open", closed_on=None, closure_reason=None)
        out.add("case", case)
        _make_case_content(rng, case, people, notes, ctx, out, problem if episode == 0 else None)
        previous = case

    _count_leap_days(out)
    return out


def _make_people(rng, index, fid, surname, address, family_postcode, first_open, ctx, out) -> list[dict]:
    people: list[dict] = []

    def person(role: str, given: str, family_name: str, dob: date | None, **extra) -> dict:
        pid = f"P{index:07d}{len(people):02d}"
        row = {
            "id": pid, "family_id": fid, "role": role, "given_name": given, "family_name": family_name,
            "aliases": None, "date_of_birth": dob, "date_of_death": None, "address": address,
            "postcode": family_postcode, "phone": None, "email": None, "organisation": None,
            "research_opt_out": rng.random() < 0.1,
        }
        row.update(extra)
        people.append(out.add("person", row))
        return row

    home_start = "home_start" in ctx.case_types
    oldest_age = rng.uniform(0.2, 4.8) if home_start else rng.uniform(0.1, 16.5)
    oldest_dob = first_open - _years(oldest_age)
    children_count = rng.choices((1, 2, 3, 4), weights=(35, 35, 20, 10))[0]
    child_names = rng.sample(vocab.GIVEN_NAMES_CHILD, children_count)
    for n, given in enumerate(child_names):
        dob = min(oldest_dob + timedelta(days=n * rng.randint(300, 900)), ctx.as_of - timedelta(days=1))
        person("subject_child", given, surname, dob)
    parents = 2 if rng.random() < 0.55 else 1
    for given in rng.sample(vocab.GIVEN_NAMES_ADULT, parents):
        parent_surname = surname if rng.random() < 0.8 else rng.choice(vocab.FAMILY_NAMES)
        aliases = f"{given[:3]} {parent_surname}" if rng.random() < 0.25 else None
        email = ident.email(given, parent_surname, rng) if rng.random() < 0.5 else None
        person("parent_carer", given, parent_surname, oldest_dob - _years(rng.uniform(17, 42)),
               aliases=aliases, phone=ident.phone(rng), email=email)
    if rng.random() < 0.35:
        given = rng.choice(vocab.GIVEN_NAMES_ADULT)
        person("family_member", given, rng.choice((surname, rng.choice(vocab.FAMILY_NAMES))),
               oldest_dob - _years(rng.uniform(40, 65)), phone=ident.phone(rng),
               address=f"{rng.randint(1, 90)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_KINDS)}",
               postcode=ident.postcode(rng))
    for _ in range(rng.choices((0, 1, 2), weights=(40, 45, 15))[0]):
        given, family_name = rng.choice(vocab.GIVEN_NAMES_ADULT), rng.choice(vocab.FAMILY_NAMES)
        person("member_of_public", given, family_name, None, phone=ident.phone(rng),
               address=f"{rng.randint(1, 90)} {rng.choice(vocab.STREETS)} {rng.choice(vocab.STREET_KINDS)}",
               postcode=ident.postcode(rng), research_opt_out=False)
    return people


def _make_case(rng, index, episode, fid, case_type, opened, previous, ctx, force_closed) -> dict:
    cid = f"C{index:07d}{episode}"
    max_months = 18 if case_type in CONSENT_BASED_TYPES else 40
    closed = opened + timedelta(days=rng.randint(30, 30 * max_months))
    still_open = closed >= ctx.as_of and not force_closed
    if force_closed and closed >= ctx.as_of:
        closed = ctx.as_of - timedelta(days=rng.randint(60, 400))
    case = {
        "id": cid, "family_id": fid, "case_type": case_type,
        "status": "open" if still_open else "closed", "opened_on": opened,
        "closed_on": None if still_open else closed,
        "closure_reason": None if still_open else rng.choice(vocab.CLOSURE_REASONS),
        "reopened_on": None, "re_referral_of": previous["id"] if previous else None,
        "last_activity_on": None, "order_date": None,
        "csa_relevant": case_type in ("child_in_need", "child_protection") and rng.random() < 0.04,
        "child_protection_concerns": case_type == "child_protection" or rng.random() < 0.08,
        "social_care_involvement": case_type != "early_help" and case_type != "home_start" or rng.random() < 0.1,
        "allegation_outcome": None,
    }
    if case_type == "adoption" and not still_open:
        case["order_date"] = closed
        case["closure_reason"] = "adoption order granted"
    # A few closed cases come back: reopened recently, so activity is current.
    if ctx.records_reopening and not still_open and not force_closed and ctx.as_of - closed < _years(2) and rng.random() < 0.15:
        case["reopened_on"] = _between(rng, closed + timedelta(days=1), ctx.as_of - timedelta(days=1))
        case["status"] = "open"
    return case


def _make_case_content(rng, case, people, notes, ctx, out, problem) -> None:
    from governance.stores.synthetic.content import add_case_content

    add_case_content(rng, case, people, notes, ctx, out, problem)


def _count_leap_days(out: FamilyRows) -> None:
    for row in out.rows.get("person", []):
        dob = row.get("date_of_birth")
        if dob is not None and dob.month == 2 and dob.day == 29:
            out.tally["leap_day_births"] += 1
    for row in out.rows.get("case", []):
        closed = row.get("closed_on")
        if closed is not None and closed.month == 2 and closed.day == 29:
            out.tally["leap_day_closures"] += 1


def at_time(rng: random.Random, day: date) -> datetime:
    return datetime.combine(day, time(rng.randint(8, 18), rng.randrange(60)))


def opted_out_choice(rng: random.Random) -> list[str]:
    return rng.sample(AGENCIES, rng.randint(1, 3))


def override(rng: random.Random) -> str:
    return rng.choice(OVERRIDE_REASONS)

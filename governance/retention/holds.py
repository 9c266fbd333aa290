"""Holds: litigation, public inquiries and anything else that stops destruction.

A hold is a query over cases, stored as structured JSON (never raw SQL):
``case_ids``, ``family_ids``, ``person_ids`` (cases the person is a member of),
``case_types`` and ``flags`` (boolean case fields such as ``csa_relevant``),
or ``{"all": true}``. A case matching any part is held. Each hold has a named
source, a reason and a review date; it applies from ``placed_on`` until it is
lifted (``lifted_on``), so an inquiry's hold can be recorded and later lifted,
as IICSA's was on 20 January 2023. A passed review date does not lift a hold:
it is reported so the IG team reviews it.

A hold must hold what it names: :func:`resolve_targets` (used by
:func:`place_hold` when given the stores, and reusable by any page that places
holds) strips stray spaces from case, family and person ids, maps an id typed
in another letter case to the one the store holds, and refuses, with one line
naming the id, a target that matches no record: a hold on ``"C00000190 "`` or
``"c00000190"`` would otherwise be "placed" while the intended case is
destroyed. A deliberate pre-emptive hold (on a case not yet in the store, say a
transfer) is allowed with ``pre_emptive=True``; its scope says so and
:func:`unmatched_targets` lists what it still matches nothing of.
"""

from __future__ import annotations

import json
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.errors import ConfigError
from governance.retention import tables
from governance.stores.model import CASE_TYPES
from governance.stores.store import CaseStore

__all__ = ["Hold", "place_hold", "lift_hold", "active_holds", "held_cases", "HOLD_FLAGS", "HOLD_KINDS",
           "resolve_targets", "unmatched_targets", "HoldTargetUnknown"]

HOLD_KINDS = ("litigation", "inquiry", "other")
HOLD_FLAGS = ("csa_relevant", "child_protection_concerns", "social_care_involvement")
_SCOPE_KEYS = ("all", "case_ids", "family_ids", "person_ids", "case_types", "flags", "pre_emptive")
_TARGETS = {"case_ids": ("case", "case id"), "family_ids": ("family", "family id"), "person_ids": ("person", "person id")}


class HoldTargetUnknown(ConfigError):
    """A hold names a record id that matches nothing in the store(s) it applies to."""


@dataclass(frozen=True)
class Hold:
    hold_id: str
    store: str | None
    kind: str
    source: str
    reason: str
    scope: Mapping[str, object]
    placed_on: date
    review_on: date
    lifted_on: date | None
    placed_by: str

    def to_json(self) -> dict:
        return {
            "hold_id": self.hold_id, "store": self.store, "kind": self.kind, "source": self.source,
            "reason": self.reason, "scope": dict(self.scope), "placed_on": self.placed_on.isoformat(),
            "review_on": self.review_on.isoformat(), "lifted_on": self.lifted_on.isoformat() if self.lifted_on else None,
            "placed_by": self.placed_by,
        }


def _check_scope(scope: Mapping[str, object]) -> dict:
    unknown = sorted(set(scope) - set(_SCOPE_KEYS))
    if unknown:
        raise ConfigError(f"hold scope has unknown key(s) {unknown} (known: {', '.join(_SCOPE_KEYS)})")
    clean: dict[str, object] = {}
    if scope.get("all"):
        clean["all"] = True
    if scope.get("pre_emptive"):
        clean["pre_emptive"] = True
    for key in ("case_ids", "family_ids", "person_ids", "case_types", "flags"):
        values = [str(v).strip() for v in scope.get(key) or () if str(v).strip()]
        if values:
            clean[key] = sorted(set(values))
    bad_types = [t for t in clean.get("case_types", ()) if t not in CASE_TYPES]
    bad_flags = [f for f in clean.get("flags", ()) if f not in HOLD_FLAGS]
    if bad_types or bad_flags:
        raise ConfigError(f"hold scope names unknown case type(s) {bad_types} or flag(s) {bad_flags}")
    if not set(clean) - {"pre_emptive"}:
        raise ConfigError("a hold must cover something: give case ids, family ids, person ids, case types, flags or all")
    return clean


def _stored_forms(store: CaseStore, entity: str, ids: list[str]) -> dict[str, list[str]]:
    """typed id (case-folded) -> the ids the store holds that equal it but for letter case and spaces."""
    if not ids or not store.has(entity):
        return {}
    column = store.raw(entity, "id")
    folded = sorted({i.casefold() for i in ids})
    found: dict[str, list[str]] = {}
    with store.engine.connect() as conn:
        for start in range(0, len(folded), 500):
            part = folded[start:start + 500]
            for stored in conn.execute(sa.select(column).where(sa.func.lower(sa.func.trim(column)).in_(part))).scalars():
                found.setdefault(str(stored).strip().casefold(), []).append(str(stored))
    return found


def resolve_targets(stores: Sequence[CaseStore], scope: Mapping[str, object], *, pre_emptive: bool = False) -> dict:
    """The scope with each typed id replaced by the store's own form; refuses an id matching nothing.

    ``stores`` are the stores the hold applies to (one, or every configured
    store for a hold on all stores). An id may match in any of them. With
    ``pre_emptive`` an id matching nothing is kept as typed (stripped) and the
    scope is marked ``pre_emptive``.
    """
    clean = _check_scope({**scope, "pre_emptive": pre_emptive})
    for key, (entity, label) in _TARGETS.items():
        typed = list(clean.get(key, ()))
        if not typed:
            continue
        forms: dict[str, set[str]] = {}
        for store in stores:
            for folded, stored in _stored_forms(store, entity, typed).items():
                forms.setdefault(folded, set()).update(stored)
        resolved: set[str] = set()
        for value in typed:
            matches = forms.get(value.casefold(), set())
            if len({m for m in matches}) > 1 and value not in matches:
                raise HoldTargetUnknown(f"hold {label} {value[:60]!r} matches {len(matches)} records that differ only "
                                        f"in letter case ({', '.join(sorted(matches)[:3])}): give the exact id")
            if not matches:
                if not pre_emptive:
                    where = ", ".join(s.name for s in stores) or "no store"
                    raise HoldTargetUnknown(f"hold {label} {value[:60]!r} matches no record in store {where}: check "
                                            "the id, or place a deliberate pre-emptive hold with --pre-emptive")
                resolved.add(value)
            else:
                resolved.update({value} if value in matches else matches)
        clean[key] = sorted(resolved)
    return clean


def unmatched_targets(store: CaseStore, hold: Hold) -> list[str]:
    """The hold's case, family and person ids that match no record of ``store`` now (e.g. ``case C9``)."""
    missing = []
    for key, (entity, label) in _TARGETS.items():
        typed = [str(v) for v in hold.scope.get(key, ())]
        present = _stored_forms(store, entity, typed) if typed else {}
        missing += [f"{label} {v}" for v in typed if v.casefold() not in present]
    return missing


def _begin(bind: Engine | sa.Connection) -> Any:
    """A transaction of our own on an engine; a caller's connection is used as it is (the caller commits)."""
    return nullcontext(bind) if isinstance(bind, sa.Connection) else bind.begin()


def place_hold(
    engine: Engine | sa.Connection, *, kind: str, source: str, reason: str, scope: Mapping[str, object], placed_on: date,
    review_on: date, placed_by: str, store: str | None = None, hold_id: str | None = None,
    stores: Sequence[CaseStore] | None = None, pre_emptive: bool = False, today: date | None = None,
) -> Hold:
    """Record a hold. With ``stores`` (the stores it applies to) its ids are checked: see :func:`resolve_targets`.

    With ``today`` (the caller's wall-clock date), a hold placed from a later date is refused: it
    would keep nothing until then, and a mistyped year (2062 for 2026) would leave the case to be
    destroyed while the hold looks placed. One day's grace covers UK time ahead of UTC.
    """
    if today is not None and placed_on > today + timedelta(days=1):
        raise ConfigError(f"a hold placed on {placed_on.isoformat()} is placed after today ({today.isoformat()}): it "
                          "would keep nothing until then; place it from today or earlier")
    if kind not in HOLD_KINDS:
        raise ConfigError(f"hold kind must be one of {', '.join(HOLD_KINDS)}")
    for name, value in (("source", source), ("reason", reason), ("placed_by", placed_by)):
        if not value or not value.strip():
            raise ConfigError(f"a hold needs a {name}")
    if review_on < placed_on:
        raise ConfigError("a hold's review date cannot be before the date it is placed")
    checked = (resolve_targets(stores, scope, pre_emptive=pre_emptive) if stores is not None
               else _check_scope({**scope, "pre_emptive": pre_emptive}))
    hold = Hold(hold_id or f"H-{uuid.uuid4().hex[:12]}", store, kind, source, reason, checked,
                placed_on, review_on, None, placed_by)
    with _begin(engine) as conn:
        conn.execute(tables.holds.insert().values(
            hold_id=hold.hold_id, store=store, kind=kind, source=source, reason=reason,
            scope=json.dumps(hold.scope, sort_keys=True), placed_on=placed_on, review_on=review_on,
            lifted_on=None, placed_by=placed_by))
    return hold


def lift_hold(engine: Engine | sa.Connection, hold_id: str, *, lifted_on: date) -> None:
    """Lift a hold in force (``engine``: its own transaction; a connection: the caller's)."""
    with _begin(engine) as conn:
        done = conn.execute(tables.holds.update().where(tables.holds.c.hold_id == hold_id, tables.holds.c.lifted_on.is_(None))
                            .values(lifted_on=lifted_on)).rowcount
    if not done:
        raise ConfigError(f"no active hold {hold_id!r}")


def active_holds(engine: Engine, store: str, as_of: date) -> list[Hold]:
    h = tables.holds
    query = sa.select(h).where(
        sa.or_(h.c.store.is_(None), h.c.store == store),
        h.c.placed_on <= as_of,
        sa.or_(h.c.lifted_on.is_(None), h.c.lifted_on > as_of),
    ).order_by(h.c.hold_id)
    with engine.connect() as conn:
        return [
            Hold(r.hold_id, r.store, r.kind, r.source, r.reason, json.loads(r.scope), r.placed_on, r.review_on,
                 r.lifted_on, r.placed_by)
            for r in conn.execute(query)
        ]


def held_cases(store: CaseStore, holds: Iterable[Hold], facts: Mapping) -> dict[str, list[str]]:
    """case id -> ids of the holds covering it, for the cases in ``facts``."""
    covered: dict[str, list[str]] = {}
    for hold in holds:
        scope = hold.scope
        matched: set[str] = set()
        if scope.get("all"):
            matched = set(facts)
        case_ids, family_ids = set(scope.get("case_ids", ())), set(scope.get("family_ids", ()))
        case_types, flags = set(scope.get("case_types", ())), list(scope.get("flags", ()))
        for case_id, f in facts.items():
            if (case_id in case_ids or f.family_id in family_ids or f.case_type in case_types
                    or any(getattr(f, flag, None) for flag in flags)):
                matched.add(case_id)
        person_ids = list(scope.get("person_ids", ()))
        if person_ids:
            matched |= _cases_of_people(store, person_ids) & set(facts)
        for case_id in matched:
            covered.setdefault(case_id, []).append(hold.hold_id)
    return covered


def _cases_of_people(store: CaseStore, person_ids: list[str]) -> set[str]:
    from governance.db import chunked

    found: set[str] = set()
    with store.engine.connect() as conn:
        for batch in chunked(person_ids):
            query = sa.select(store.raw("case_member", "case_id")).where(store.raw("case_member", "person_id").in_(batch))
            found.update(conn.execute(query).scalars())
    return found

"""Which cases may go, and why not: the one place the safety rules are enforced.

A case is **due** only when every clock of its rule has run (the longest wins,
including the youngest subject child's date-of-birth clock, and, where a rule's
condition is judged per child, each child's own clock) and nothing stops it.
It is **excluded**, with reason codes, when:

- ``HOLD:<id>``: a litigation, inquiry or other hold covers it;
- ``SAR_PENDING``: a member of the case has a pending subject-access request
  (altering or destroying data after a request is an offence, DPA 2018 s.173);
- ``QUARANTINED``: data quality has quarantined it or one of its records;
- ``OBJECT_LOCKED``: one of its documents is under write-once retention or a
  legal hold in object storage, so it could not be destroyed whole (read only
  when executing, just before the deletes: see :func:`evaluate_with_facts`);
- ``MISSING_TRIGGER:<what>`` / ``IMPLAUSIBLE_DATE:<what>``: the dates its clocks
  need are absent or implausible (never destroyed on a guess);
- ``UNREADABLE_DATE:<entity.field>`` / ``UNREADABLE_VALUE:<entity.field>``: a
  stored value the one reading rule (:mod:`governance.stores.values`) cannot
  read, e.g. a closure date ``30/06/2021``; ``DUPLICATE_ID``: two case rows
  share its id; ``MISSING_ID`` (plans only): a case row without an id;
- ``NO_RULE``: the schedule has no rule for its type;
- ``CHAIN:<case>``: another case in its re-referral chain is excluded;
- ``REJECTED:<batch>``: a reviewer rejected it in that batch; the rejection
  stands until lifted or expired (:mod:`governance.retention.rejections`).

It is **not due**, with a reason, when a clock is still running
(``CLOCK_RUNNING``, with the date it becomes due), it is open (``OPEN``), it was
reopened (``REOPENED``), or its re-referral chain is not finished
(``CHAIN_NOT_DUE``): a re-referred family's episodes are kept as one series.
Cases whose rule's action is ``review`` are listed as **review**, never
destroyed, and so is a due case whose chain holds one (``CHAIN_REVIEW:<case>``):
a chain goes only when every case in it can go.

Everything is evaluated as of an explicit date. The same function is used by
the plan, by batch creation and again just before every chunk is executed, so a
hold or access request placed after approval wins. ``as_of`` runs the retention
clocks only; holds and rejections are judged on ``in_force_at`` (the day the
work happens: the executor passes the wall clock's date, as storage judges
object locks), so a hold placed after a batch's as-of date still keeps its
cases. Pending access requests are read as they stand now.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from governance.retention.dates import expiry
from governance.db import one_of
from governance.retention.facts import CaseFacts, links_around, load_facts, load_links
from governance.retention.holds import active_holds, held_cases
from governance.retention.rejections import rejected_cases
from governance.retention.schedule import Rule, Schedule
from governance.stores.store import CaseStore

if TYPE_CHECKING:  # storage is imported only by callers that pass an object store (boto3 is heavy)
    from governance.storage import ObjectStore

__all__ = ["Decision", "evaluate", "evaluate_with_facts", "EARLIEST_PLAUSIBLE_BIRTH", "RESURRECTED_RULE"]

EARLIEST_PLAUSIBLE_BIRTH = date(1901, 1, 1)  # 1900-01-01 is a legacy system's "unknown"
RESURRECTED_RULE = "tombstone"  # a destroyed record that came back from a backup


@dataclass(frozen=True, slots=True)
class Decision:
    case_id: str
    case_type: str
    status: str  # due | review | excluded | not_due
    rule_id: str | None
    action: str | None
    due_on: date | None
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {
            "case_id": self.case_id, "case_type": self.case_type, "status": self.status, "rule": self.rule_id,
            "action": self.action, "due_on": self.due_on.isoformat() if self.due_on else None,
            "reasons": list(self.reasons),
        }


def evaluate(
    store: CaseStore,
    state: Engine,
    schedule: Schedule,
    as_of: date,
    *,
    case_ids: Iterable[str] | None = None,
    resurrected: frozenset[str] = frozenset(),
    in_force_at: date | None = None,
) -> list[Decision]:
    """Decide every case (or the given cases, with their whole re-referral chains)."""
    return evaluate_with_facts(store, state, schedule, as_of, case_ids=case_ids, resurrected=resurrected,
                               in_force_at=in_force_at)[0]


def evaluate_with_facts(
    store: CaseStore,
    state: Engine,
    schedule: Schedule,
    as_of: date,
    *,
    case_ids: Iterable[str] | None = None,
    resurrected: frozenset[str] = frozenset(),
    objects: ObjectStore | None = None,
    in_force_at: date | None = None,
) -> tuple[list[Decision], dict[str, CaseFacts]]:
    """:func:`evaluate`, and the facts it decided on (so an executor need not read them twice).

    With ``objects``, the cases' documents are also checked for object locks
    (``OBJECT_LOCKED``). The executor passes it for each chunk; plans do not,
    because on S3 it costs requests per object version, and a lock is judged by
    the wall clock at the moment of deletion, not by a plan's as-of date.
    Holds and rejections are judged on ``in_force_at`` (default ``as_of``).
    """
    if case_ids is None:
        wanted = None
        components = _chains(load_links(store))
        facts = load_facts(store, contact_types=_activity_types(schedule))
    else:
        wanted = set(case_ids)
        components = _chains(links_around(store, wanted))
        scope = {member for c in wanted for member in components.get(c, (c,))}
        facts = load_facts(store, sorted(scope), contact_types=_activity_types(schedule))
    exclusions = _exclusions(store, state, in_force_at or as_of, facts, objects)
    own = {cid: _own(f, schedule, as_of, cid in resurrected, exclusions.get(cid, ())) for cid, f in facts.items()}
    decisions = [_with_chain(own[cid], components.get(cid, (cid,)), own) for cid in facts]
    if wanted is not None:
        decisions = [d for d in decisions if d.case_id in wanted]
    return sorted(decisions, key=lambda d: d.case_id), facts


# -- the rules ---------------------------------------------------------------------

# Conditions judged child by child: the children a condition holds for follow its rule, the
# others the type's next rule, and the longest clock wins (a child who died before 18 never
# shortens a living sibling's 75th-birthday clock).
CHILD_CONDITIONS = ("child_died_before_18",)
# When a case's children fall under rules with different actions, the most careful action applies.
_ACTION_CARE = {"destroy": 0, "anonymise": 1, "review": 2}


def _died_before_18(born: date | None, died: date | None) -> bool:
    return born is not None and died is not None and died < expiry(born, 18)


def _conditions(f: CaseFacts, children: list[tuple[date | None, date | None]]):
    def holds(name: str) -> bool:
        if name == "cp_concerns_or_social_care":
            return bool(f.child_protection_concerns) or bool(f.social_care_involvement)
        if name == "child_died_before_18":
            return any(_died_before_18(born, died) for born, died in children)
        if name == "allegation_unfounded":
            return (f.allegation_outcome or "").lower() == "unfounded"
        raise ValueError(name)

    return holds


def _data_problems(f: CaseFacts, as_of: date) -> list[str]:
    problems = list(f.unreadable)
    if f.duplicate_id:
        problems.append("DUPLICATE_ID")
    if f.opened_on is None:
        if "UNREADABLE_DATE:case.opened_on" not in f.unreadable:
            problems.append("MISSING_TRIGGER:opened_on")
    elif f.opened_on > as_of:
        problems.append("IMPLAUSIBLE_DATE:opened_on_in_future")
    if f.status == "closed" and f.closed_on is None and "UNREADABLE_DATE:case.closed_on" not in f.unreadable:
        problems.append("MISSING_TRIGGER:closed_on")
    if f.closed_on is not None:
        if f.opened_on is not None and f.closed_on < f.opened_on:
            problems.append("IMPLAUSIBLE_DATE:closed_before_opened")
        if f.closed_on > as_of:
            problems.append("IMPLAUSIBLE_DATE:closed_on_in_future")
    if f.reopened_on is not None:
        # The same shape data quality quarantines (case.reopened_on.not_before_opened_on): a case
        # reopened and closed again has reopened_on before closed_on, and that is not a defect.
        if f.opened_on is not None and f.reopened_on < f.opened_on:
            problems.append("IMPLAUSIBLE_DATE:reopened_before_opened")
        if f.reopened_on > as_of:
            problems.append("IMPLAUSIBLE_DATE:reopened_on_in_future")
    if f.oldest_dob is not None and f.oldest_dob < EARLIEST_PLAUSIBLE_BIRTH:
        problems.append("IMPLAUSIBLE_DATE:date_of_birth")
    if f.youngest_dob is not None and f.youngest_dob > as_of:
        problems.append("IMPLAUSIBLE_DATE:date_of_birth_in_future")
    return problems


def _trigger(f: CaseFacts, trigger: str, rule: Rule,
             children: list[tuple[date | None, date | None]]) -> tuple[date | None, str | None]:
    """The clock's start date, or the reason it cannot be known."""
    if trigger == "closure":
        return (f.closed_on, None) if f.closed_on else (None, "MISSING_TRIGGER:closed_on")
    if trigger == "last_activity":
        # Recorded contact after closure (a note of a visit, a meeting, a report received) is
        # activity: the clock runs from the latest of it, the closure and any reopening.
        dates = (f.last_activity_on, f.closed_on, f.reopened_on, f.last_contact_on)
        latest = max((d for d in dates if d), default=None)
        return (latest, None) if latest else (None, "MISSING_TRIGGER:last_activity")
    if trigger == "date_of_birth":
        if not children or any(born is None for born, _ in children):
            return None, "MISSING_TRIGGER:date_of_birth"
        return max(born for born, _ in children), None  # the youngest child's clock runs last
    if trigger == "death":
        deaths = [died for born, died in children if _died_before_18(born, died)]
        return (max(deaths), None) if deaths else (None, "MISSING_TRIGGER:date_of_death")
    if trigger == "order_date":
        return (f.order_date, None) if f.order_date else (None, "MISSING_TRIGGER:order_date")
    raise ValueError(f"rule {rule.id}: unknown trigger {trigger}")


def _rule_parts(f: CaseFacts, schedule: Schedule) -> list[tuple[Rule | None, list]]:
    """(rule, the subject children it governs): one part, or one per outcome of a per-child condition."""
    children = f.child_dates
    rule = schedule.rule_for(f.case_type, _conditions(f, children))
    if rule is None or rule.when not in CHILD_CONDITIONS:
        return [(rule, children)]
    meets = [c for c in children if _conditions(f, [c])(rule.when)]
    others = [c for c in children if c not in meets]
    if not others:
        return [(rule, children)]
    return [(rule, meets), (schedule.rule_for(f.case_type, _conditions(f, others)), others)]


def _clocks_end(f: CaseFacts, rule: Rule, children: list) -> tuple[date | None, list[str]]:
    """When every clock of ``rule`` has run for these children (the longest wins), or what is missing."""
    due_on, missing = None, []
    for clock in rule.clocks:
        start, why = _trigger(f, clock.trigger, rule, children)
        if start is None:
            missing.append(why)
            continue
        ends = expiry(start, clock.years)
        due_on = ends if due_on is None or ends > due_on else due_on
    return due_on, missing


def _own(f: CaseFacts, schedule: Schedule, as_of: date, resurrected: bool, blocked: tuple[str, ...]) -> Decision:
    """The case on its own, before its re-referral chain is considered."""
    def decide(status, rule=None, due_on=None, reasons=()):
        return Decision(f.id, f.case_type, status, rule.id if rule else (RESURRECTED_RULE if resurrected else None),
                        rule.action if rule else ("destroy" if resurrected else None), due_on, tuple(reasons))

    if resurrected:
        # Destroyed once already: due now, but holds and access requests still win.
        return decide("excluded", reasons=blocked) if blocked else decide("due", due_on=as_of)
    parts = _rule_parts(f, schedule)
    problems = _data_problems(f, as_of)
    if any(rule is None for rule, _ in parts):
        return decide("excluded", reasons=["NO_RULE", *problems])
    ends = [(rule, *_clocks_end(f, rule, children)) for rule, children in parts]
    # The rule reported is the most careful one, then the one whose clocks run longest.
    rule = max(ends, key=lambda e: (_ACTION_CARE[e[0].action], e[1] or date.max))[0]
    if problems:
        return decide("excluded", rule, reasons=problems + list(blocked))
    if f.status != "closed":
        return decide("not_due", rule, reasons=["REOPENED" if f.reopened_on else "OPEN"])
    if f.reopened_on is not None and (f.closed_on is None or f.reopened_on >= f.closed_on):
        return decide("not_due", rule, reasons=["REOPENED"])
    missing = [why for _, _, whys in ends for why in whys]
    if missing:
        return decide("excluded", rule, reasons=list(dict.fromkeys(missing)) + list(blocked))
    due_on = max(end for _, end, _ in ends)
    if due_on > as_of:
        return decide("not_due", rule, due_on=due_on, reasons=["CLOCK_RUNNING"])
    if blocked:
        return decide("excluded", rule, due_on, blocked)
    return decide("review" if rule.action == "review" else "due", rule, due_on)


def _with_chain(decision: Decision, chain: tuple[str, ...], own: dict[str, Decision]) -> Decision:
    """A re-referral chain is one series: a case goes only when every case in it can go."""
    if decision.status not in ("due", "review") or len(chain) == 1:
        return decision
    others = [own[c] for c in chain if c != decision.case_id and c in own]
    excluded = [o.case_id for o in others if o.status == "excluded"]
    if excluded:
        return Decision(decision.case_id, decision.case_type, "excluded", decision.rule_id, decision.action,
                        decision.due_on, tuple(f"CHAIN:{c}" for c in excluded))
    waiting = [o for o in others if o.status == "not_due"]
    if waiting:
        later = [o.due_on for o in waiting if o.due_on]
        due_on = max([decision.due_on, *later]) if decision.due_on and len(later) == len(waiting) else None
        return Decision(decision.case_id, decision.case_type, "not_due", decision.rule_id, decision.action,
                        due_on, ("CHAIN_NOT_DUE",))
    reviewed = [o.case_id for o in others if o.status == "review"]
    if decision.status == "due" and reviewed:
        # A series with a case only the IG team may dispose of (child protection, say) is reviewed as
        # one: its early-help episode is listed with it, never destroyed on its own.
        return Decision(decision.case_id, decision.case_type, "review", decision.rule_id, decision.action,
                        decision.due_on, tuple(f"CHAIN_REVIEW:{c}" for c in reviewed))
    return decision


# -- inputs --------------------------------------------------------------------------


def _activity_types(schedule: Schedule) -> frozenset[str]:
    """Case types with a rule whose clock counts activity: only their recorded contact is read."""
    return frozenset(t for r in schedule.rules if any(c.trigger == "last_activity" for c in r.clocks)
                     for t in r.case_types)


def _chains(links: list[tuple[str, str | None]]) -> dict[str, tuple[str, ...]]:
    """Connected components of the re-referral graph (union-find over ids only)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        root = x
        while parent.setdefault(root, root) != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    for case_id, previous in links:
        find(case_id)
        if previous:
            parent[find(case_id)] = find(previous)
    groups: dict[str, list[str]] = defaultdict(list)
    for case_id in parent:
        groups[find(case_id)].append(case_id)
    return {member: tuple(sorted(group)) for group in groups.values() if len(group) > 1 for member in group}


def _exclusions(store: CaseStore, state: Engine, in_force_at: date, facts: dict[str, CaseFacts],
                objects: ObjectStore | None = None) -> dict[str, tuple[str, ...]]:
    from governance.quality.tables import quarantine
    from governance.sar.tables import PENDING_STATUSES, requests

    reasons: dict[str, list[str]] = defaultdict(list)
    for case_id, hold_ids in held_cases(store, active_holds(state, store.name, in_force_at), facts).items():
        reasons[case_id].extend(f"HOLD:{h}" for h in sorted(hold_ids))
    for case_id, batch_ids in rejected_cases(state, store.name, list(facts), in_force_at).items():
        reasons[case_id].extend(f"REJECTED:{b}" for b in batch_ids)
    with state.connect() as conn:
        pending_people = conn.execute(sa.select(requests.c.subject_person_id).where(
            requests.c.store == store.name, requests.c.status.in_(PENDING_STATUSES))).scalars().all()
        quarantined = set(conn.execute(sa.select(quarantine.c.case_id).where(
            quarantine.c.store == store.name, quarantine.c.released_at.is_(None),
            quarantine.c.case_id.is_not(None))).scalars())
    with store.engine.connect() as conn:
        if pending_people:
            query = sa.select(store.raw("case_member", "case_id")).where(
                one_of(store.raw("case_member", "person_id"), sorted(set(pending_people)), conn.dialect.name))
            for case_id in conn.execute(query).scalars():
                if case_id in facts and "SAR_PENDING" not in reasons[case_id]:
                    reasons[case_id].append("SAR_PENDING")
    for case_id in quarantined & set(facts):
        reasons[case_id].append("QUARANTINED")
    if objects is not None:
        for case_id in _cases_with_locked_objects(store, objects, list(facts)):
            reasons[case_id].append("OBJECT_LOCKED")
    return {case_id: tuple(r) for case_id, r in reasons.items() if r}


def _cases_with_locked_objects(store: CaseStore, objects: ObjectStore, case_ids: list[str]) -> set[str]:
    """Cases with a document that object storage would refuse to delete now.

    Without this a locked document would stop its chunk after the rows had gone,
    leaving a document whose case record was destroyed until the lock ended.
    """
    if not case_ids or not objects.supports_object_lock() or not store.has_field("document", "object_key"):
        return set()
    doc_case, doc_key = store.raw("document", "case_id"), store.raw("document", "object_key")
    with store.engine.connect() as conn:
        keys = conn.execute(sa.select(doc_case, doc_key).where(
            one_of(doc_case, case_ids, conn.dialect.name), doc_key.is_not(None))).all()
    locked = objects.locked(sorted({key for _, key in keys}))
    return {case_id for case_id, key in keys if key in locked}

"""The shapes the hand-written scenarios are written in: people, cases, notes, holds, expectations.

A :class:`Scenario` is one household's (or two households') records and the
outcome the retention plan must give each of its cases; :meth:`Scenario.rows`
turns it into logical rows for :meth:`CaseStore.insert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

__all__ = ["P", "N", "Doc", "Share", "K", "C", "H", "Expect", "Scenario"]

_MEMBER_ROLE = {"subject_child": "subject_child", "parent_carer": "parent_carer", "family_member": "family_member",
                "professional": "professional"}


@dataclass
class P:
    """A person. ``home`` names the household (None: a professional, no household)."""

    key: str
    name: str
    role: str
    dob: date | None = None
    died: date | None = None
    home: str | None = "home"
    organisation: str | None = None
    raw_dob: str | None = None  # the stored value, when a system kept it as text


@dataclass
class N:
    """A casenote: visit, call, meeting minutes, letter."""

    on: date
    title: str
    body: str
    author: str | None = None  # person key
    raw_on: str | None = None


@dataclass
class Doc:
    on: date
    title: str
    organisation: str = "Borough children's services"


@dataclass
class Share:
    on: date
    information: str
    agency: str = "health"
    purpose: str = "coordinate support"


@dataclass
class K:
    """A signed consent form, filed for the case under ``home`` (not always the case's own household)."""

    on: date
    signed_by: str  # person key
    home: str = "home"


@dataclass
class C:
    id: str | None
    type: str
    opened: date
    closed: date | None = None
    members: tuple[str, ...] = ()
    notes: tuple[N, ...] = ()
    status: str | None = None
    reopened: date | None = None
    re_referral_of: str | None = None
    last_activity: date | None = None
    order_date: date | None = None
    reason: str | None = "needs met"
    home: str = "home"
    documents: tuple[Doc, ...] = ()
    shares: tuple[Share, ...] = ()
    accessed: tuple[datetime, ...] = ()
    consents: tuple[K, ...] = ()
    raw: dict[str, str] = field(default_factory=dict)  # field -> the stored text
    flags: dict[str, object] = field(default_factory=dict)  # csa_relevant, child_protection_concerns, ...


@dataclass
class H:
    """A hold; ``scope`` in the hold's own terms (case ids, family keys resolved by the loader)."""

    kind: str
    source: str
    reason: str
    scope: dict
    placed_on: date
    review_on: date
    lifted_on: date | None = None

    def placement(self) -> dict:
        return {"kind": self.kind, "source": self.source, "reason": self.reason, "scope": self.scope,
                "placed_on": self.placed_on, "review_on": self.review_on}


@dataclass(frozen=True)
class Expect:
    """What the plan says about a case as of the scenarios' date (derived from domain.md)."""

    status: str  # due | review | excluded | not_due
    rule: str | None = None
    due_on: date | None = None
    reasons: tuple[str, ...] = ()  # "HOLD:<name>" names a hold of the scenario


@dataclass
class Scenario:
    key: str
    rule: str  # the one rule this scenario pins, in a records manager's words
    homes: dict[str, tuple[str, str, str]]  # household key -> (household name, address, postcode)
    people: tuple[P, ...]
    cases: tuple[C, ...]
    expect: dict[str, Expect]
    holds: dict[str, H] = field(default_factory=dict)
    access_requests: tuple[tuple[str, str], ...] = ()  # (person key, status)
    quarantined: tuple[tuple[str, str, str], ...] = ()  # (case id, casenote id, rule)
    kept_after_sweep: tuple[tuple[str, str], ...] = ()  # (entity, id or key) that must survive a sweep
    gone_after_sweep: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        self.access_requests = tuple((self.person_id(p), s) for p, s in self.access_requests)
        for hold in self.holds.values():
            scope = dict(hold.scope)
            if "family_ids" in scope:
                scope["family_ids"] = [self.family_id(k) for k in scope["family_ids"]]
            if "person_ids" in scope:
                scope["person_ids"] = [self.person_id(k) for k in scope["person_ids"]]
            hold.scope = scope
        resolve = {"person": self.person_id, "family": self.family_id}
        self.kept_after_sweep = tuple((e, resolve.get(e, str)(k)) for e, k in self.kept_after_sweep)
        self.gone_after_sweep = tuple((e, resolve.get(e, str)(k)) for e, k in self.gone_after_sweep)

    def family_id(self, home: str) -> str:
        return f"F-{self.key}" if home == "home" else f"F-{self.key}-{home}"

    def person_id(self, key: str) -> str:
        return f"{self.key}-{key}"

    def rows(self):
        """(entity, logical row) pairs, in insert order."""
        for home, (name, address, postcode) in self.homes.items():
            yield "family", {"id": self.family_id(home), "household_name": name, "address": address,
                             "postcode": postcode}
        people = {p.key: p for p in self.people}
        for n, p in enumerate(self.people):
            given, _, surname = p.name.partition(" ")
            professional = p.role == "professional"
            yield "person", {
                "id": self.person_id(p.key), "family_id": None if p.home is None else self.family_id(p.home),
                "role": p.role, "given_name": given, "family_name": surname, "date_of_birth": p.dob,
                "date_of_death": p.died, "organisation": p.organisation,
                "phone": f"01632 960{(n * 37 + len(self.key) * 101) % 1000:03d}" if not professional else None,
                "email": f"{given.lower()}.{surname.lower().replace(' ', '')}@example.org" if professional else None,
            }
        for case in self.cases:
            yield "case", {
                "id": case.id, "family_id": self.family_id(case.home), "case_type": case.type,
                "status": case.status or ("closed" if case.closed or case.raw.get("closed_on") else "open"),
                "opened_on": case.opened, "closed_on": case.closed,
                "closure_reason": case.reason if (case.closed or case.status == "closed" or "closed_on" in case.raw) else None,
                "reopened_on": case.reopened, "re_referral_of": case.re_referral_of,
                "last_activity_on": case.last_activity, "order_date": case.order_date,
                "csa_relevant": False, "child_protection_concerns": False, "social_care_involvement": False,
                **case.flags,
            }
            if case.id is None:
                continue
            for m, member in enumerate(case.members):
                key, _, role = member.partition(":")  # "mum:subject_child": her own childhood case
                yield "case_member", {"id": f"{case.id}-M{m}", "case_id": case.id, "person_id": self.person_id(key),
                                      "role": role or _MEMBER_ROLE[people[key].role]}
            for m, note in enumerate(case.notes):
                yield "casenote", {"id": f"{case.id}-N{m}", "case_id": case.id, "written_on": note.on,
                                   "author_id": self.person_id(note.author) if note.author else None,
                                   "title": note.title, "body": note.body}
            for m, doc in enumerate(case.documents):
                yield "document", {"id": f"{case.id}-D{m}", "case_id": case.id, "created_on": doc.on,
                                   "object_key": f"stores/default/cases/{case.id}/{case.id}-D{m}.pdf",
                                   "title": doc.title, "author_organisation": doc.organisation, "third_party": False}
            for m, share in enumerate(case.shares):
                yield "sharing_record", {"id": f"{case.id}-S{m}", "case_id": case.id, "shared_on": share.on,
                                         "information": share.information, "recipient_agency": share.agency,
                                         "purpose": share.purpose, "decision": "shared", "lawful_basis": "consent",
                                         "consent_status": "given", "decision_maker": "team manager",
                                         "family_informed": True}
            for m, form in enumerate(case.consents):
                yield "consent", {"id": f"{case.id}-K{m}", "case_id": case.id, "family_id": self.family_id(form.home),
                                  "given_by": self.person_id(form.signed_by), "given_on": form.on,
                                  "consent_to_approach": True, "consent_to_share": True}
            for m, at in enumerate(case.accessed):
                yield "access_log", {"id": f"{case.id}-A{m}", "case_id": case.id, "accessed_by": "records officer",
                                     "is_staff": True, "reason": "subject access search", "accessed_at": at}

    def raw_values(self):
        """(entity, id, field, stored text) written over the typed values after the insert."""
        for p in self.people:
            if p.raw_dob is not None:
                yield "person", self.person_id(p.key), "date_of_birth", p.raw_dob
        for case in self.cases:
            for name, value in case.raw.items():
                yield "case", case.id, name, value
            for m, note in enumerate(case.notes):
                if note.raw_on is not None:
                    yield "casenote", f"{case.id}-N{m}", "written_on", note.raw_on

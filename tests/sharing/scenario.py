"""A small hand-made store whose consent history is known day by day.

F1  consent-based case C1 (2024-01-10 .. 2024-12-01): form K1 signed 2024-01-10 by P1,
    consent to share, police opted out, withdrawn 2024-06-01. Case C2 from 2025-03-01:
    form K2 signed by P2, no opt-outs.
F2  consent-based case C4 (2023): form K3 signed 2023-01-01, consent to share NOT given.
    Statutory case C3 (child in need) open from 2024-02-01.
F3  consent-based case C5 from 2024-05-01, no consent form. A child opted out of research.
F4  statutory only; a member of the public on file opted out of research.
F5  two overlapping consent-based cases: C7 (form K5, consent to share) and C8 from
    2024-03-01 (form K6, consent to share NOT given). Share S12 on C7 is judged by K5.
"""

from __future__ import annotations

from datetime import date, datetime

from governance.config import StoreConfig
from governance.stores.store import CaseStore

D = date.fromisoformat


def _person(pid, fid, role, opt_out=False):
    return {"id": pid, "family_id": fid, "role": role, "given_name": "Canary" + pid, "family_name": "Zed",
            "research_opt_out": opt_out}


def _case(cid, fid, ctype, opened, closed=None):
    return {"id": cid, "family_id": fid, "case_type": ctype, "status": "closed" if closed else "open",
            "opened_on": D(opened), "closed_on": D(closed) if closed else None}


def _share(sid, cid, day, agency, basis="consent", decision="shared", override=None):
    return {"id": sid, "case_id": cid, "shared_on": D(day), "information": "CANARY-CONTENT", "recipient_agency": agency,
            "purpose": "coordinate support plan", "decision": decision, "lawful_basis": basis,
            "override_reason": override, "family_informed": True, "restriction_on_disclosure": False}


def build(url: str, mapping: str = "reference") -> CaseStore:
    """Create and fill the scenario store; consent-based cases use the mapping's own type."""
    store = CaseStore.open(StoreConfig("scenario", url, mapping))
    store.create_schema()
    eh = "home_start" if mapping == "homestart" else "early_help"
    rows = {
        "family": [{"id": f} for f in ("F1", "F2", "F3", "F4", "F5")],
        "person": [
            _person("P1", "F1", "parent_carer"), _person("P2", "F1", "parent_carer"), _person("P3", "F1", "subject_child"),
            _person("P4", "F2", "parent_carer"), _person("P5", "F3", "subject_child", opt_out=True),
            _person("P6", "F4", "member_of_public", opt_out=True), _person("X1", None, "professional", opt_out=True),
        ],
        "case": [
            _case("C1", "F1", eh, "2024-01-10", "2024-12-01"), _case("C2", "F1", eh, "2025-03-01"),
            _case("C3", "F2", "child_in_need", "2024-02-01"), _case("C4", "F2", eh, "2023-01-01", "2023-12-31"),
            _case("C5", "F3", eh, "2024-05-01"), _case("C6", "F4", "child_in_need", "2024-01-01"),
            _case("C7", "F5", eh, "2024-01-01"), _case("C8", "F5", eh, "2024-03-01"),
        ],
        "case_member": [
            {"id": "M1", "case_id": "C1", "person_id": "P1", "role": "parent_carer"},
            {"id": "M2", "case_id": "C2", "person_id": "P1", "role": "parent_carer"},
            {"id": "M3", "case_id": "C1", "person_id": "X1", "role": "professional"},
            {"id": "M4", "case_id": "C3", "person_id": "P4", "role": "parent_carer"},
        ],
        "consent": [
            {"id": "K1", "family_id": "F1", "case_id": "C1", "given_by": "P1", "given_on": D("2024-01-10"),
             "consent_to_approach": True, "consent_to_share": True, "withdrawn_on": D("2024-06-01")},
            {"id": "K2", "family_id": "F1", "case_id": "C2", "given_by": "P2", "given_on": D("2025-03-01"),
             "consent_to_approach": True, "consent_to_share": True, "withdrawn_on": None},
            {"id": "K3", "family_id": "F2", "case_id": "C4", "given_by": "P4", "given_on": D("2023-01-01"),
             "consent_to_approach": True, "consent_to_share": False, "withdrawn_on": None},
            {"id": "K5", "family_id": "F5", "case_id": "C7", "given_by": None, "given_on": D("2024-01-01"),
             "consent_to_approach": True, "consent_to_share": True, "withdrawn_on": None},
            {"id": "K6", "family_id": "F5", "case_id": "C8", "given_by": None, "given_on": D("2024-03-01"),
             "consent_to_approach": True, "consent_to_share": False, "withdrawn_on": None},
        ],
        "consent_opt_out": [{"id": "K1-0", "consent_id": "K1", "agency": "police"}],
        "sharing_record": [
            _share("S1", "C1", "2024-02-01", "health"),
            _share("S2", "C1", "2024-03-01", "police", basis=None, decision="not_shared"),
            _share("S3", "C2", "2025-04-01", "police"),
            _share("S4", "C3", "2024-03-01", "police", basis="legal_duty"),
            _share("S5", "C1", "2024-07-01", "housing"),  # after withdrawal
            _share("S6", "C1", "2024-03-02", "police"),  # opted out
            _share("S7", "C5", "2024-06-01", "housing"),  # no consent form
            _share("S8", "C4", "2023-06-01", "health"),  # consent to share not given
            _share("S9", "C4", "2023-06-02", "police", basis="crime", override="crime"),  # lawful override
            _share("S10", "C1", "2024-07-02", "police"),  # withdrawn AND opted out: one finding
            _share("S11", "C1", "2024-06-01", "health"),  # on the withdrawal day
            _share("S12", "C7", "2024-04-01", "health"),  # its own case's form K5 allows it
        ],
        "access_log": [{"id": "A1", "case_id": "C1", "accessed_by": "volunteer.x", "is_staff": False,
                        "reason": "home visit", "accessed_at": datetime(2024, 2, 1, 10, 0)}],
    }
    with store.engine.begin() as conn:
        for entity, entity_rows in rows.items():
            store.insert(conn, entity, entity_rows)
    return store

"""What sits under one case: members, notes, documents, consent, shares, access log.

Clean by default: every share has its lawful basis, every early-help case its
privacy-notice note, every non-staff access its reason. ``problem`` injects
exactly one deliberate defect or violation (see :mod:`.plan`) and records the
affected identifier.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from governance.stores.model import AGENCIES
from governance.stores.synthetic import vocab
from governance.stores.synthetic.families import (
    CONSENT_BASED_TYPES,
    FamilyRows,
    _between,
    at_time,
    opted_out_choice,
    override,
)

__all__ = ["add_case_content"]


def add_case_content(rng: random.Random, case: dict, people: list[dict], notes, ctx, out: FamilyRows, problem: str | None) -> None:
    cid = case["id"]
    opened = case["opened_on"]
    end = case["closed_on"] or ctx.as_of
    if case["reopened_on"]:
        end = _between(rng, case["reopened_on"], ctx.as_of)
    if problem == "dormant_open_case":
        end = opened + timedelta(days=rng.randint(60, 360))
    case_profs = rng.sample(ctx.professionals, 2 if rng.random() < 0.4 else 1)

    _members(case, people, case_profs, out, problem)
    note_rows = _notes(rng, case, notes, case_profs, opened, end, ctx, out, problem)
    documents = _documents(rng, case, people, opened, end, ctx, out, problem)
    consent, opt_outs = _consent(rng, case, people, opened, end, out, problem)
    _shares(rng, case, opened, end, consent, opt_outs, note_rows, documents, out, problem)
    _access(rng, case, opened, end, out, problem)

    case["last_activity_on"] = max((n["written_on"] for n in note_rows if n["written_on"] <= ctx.as_of), default=opened)
    if problem == "dormant_open_case":
        out.problem(problem, cid)
    _case_defects(rng, case, ctx, out, problem)


def _members(case, people, case_profs, out, problem) -> None:
    roles = {"subject_child", "parent_carer", "family_member"}
    members = [(p["id"], p["role"]) for p in people if p["role"] in roles]
    members += [(prof.id, "professional") for prof in case_profs]
    for n, (person_id, role) in enumerate(members):
        out.add("case_member", {"id": f"{case['id']}-M{n:02d}", "case_id": case["id"], "person_id": person_id, "role": role})
    if problem == "orphan_membership":
        mid = f"{case['id']}-M99"
        out.add("case_member", {"id": mid, "case_id": case["id"], "person_id": case["id"].replace("C", "P") + "99", "role": "family_member"})
        out.problem(problem, mid)


def _notes(rng, case, notes, case_profs, opened, end, ctx, out, problem) -> list[dict]:
    cid = case["id"]
    dated = []
    if case["case_type"] == "early_help" and problem != "missing_privacy_notice":
        dated.append((min(opened + timedelta(days=rng.randint(0, 20)), end), notes.privacy_notice(case_profs)))
    for _ in range(rng.randint(3, 12)):
        dated.append((_between(rng, opened, end), notes.write(rng.choice(vocab.NOTE_TITLES), case_profs)))
    dated.sort(key=lambda pair: pair[0])
    rows = []
    for n, (written_on, note) in enumerate(dated):
        rows.append(out.add("casenote", {
            "id": f"{cid}-N{n:03d}", "case_id": cid, "author_id": rng.choice(case_profs).id, "written_on": written_on,
            "title": note.title, "body": note.body, "police_intelligence": note.police_intelligence,
            "third_party_information": note.third_party_information,
            "restricted_disclosure": note.police_intelligence and rng.random() < 0.5 or rng.random() < 0.02,
        }))
        out.tally.update({f"mention_{k}": v for k, v in note.mentions.items()})
    if problem == "missing_privacy_notice":
        out.problem(problem, cid)
    if problem == "future_casenote_date":
        note = notes.write("Home visit", case_profs)
        row = out.add("casenote", {
            "id": f"{cid}-N900", "case_id": cid, "author_id": case_profs[0].id,
            "written_on": ctx.as_of + timedelta(days=rng.randint(10, 400)), "title": note.title, "body": note.body,
            "police_intelligence": False, "third_party_information": note.third_party_information, "restricted_disclosure": False,
        })
        out.tally.update({f"mention_{k}": v for k, v in note.mentions.items()})
        out.problem(problem, row["id"])
    if problem == "restricted_material_passed_on":
        note = notes.write("Strategy discussion", case_profs)
        out.add("casenote", {
            "id": f"{cid}-N902", "case_id": cid, "author_id": case_profs[0].id, "written_on": opened,
            "title": note.title, "body": note.body, "police_intelligence": True,
            "third_party_information": True, "restricted_disclosure": True,
        })
        out.tally.update({f"mention_{k}": v for k, v in note.mentions.items()})
    if problem == "orphan_casenote":
        note = notes.write("Phone call", case_profs)
        row = out.add("casenote", {
            "id": f"{cid}-N901", "case_id": cid[:-1] + "9", "author_id": case_profs[0].id, "written_on": opened,
            "title": note.title, "body": note.body, "police_intelligence": False,
            "third_party_information": note.third_party_information, "restricted_disclosure": False,
        })
        out.tally.update({f"mention_{k}": v for k, v in note.mentions.items()})
        out.problem(problem, row["id"])
    return rows


def _document_row(rng, case_id, doc_id, kind, opened, end, ctx, child, parent, out) -> dict:
    title, organisation = kind
    key = f"{ctx.object_prefix}cases/{case_id}/{doc_id}.txt"
    third_party = organisation is not None
    consent = rng.choices(("granted", "refused", "not_sought"), weights=(50, 20, 30))[0] if third_party else None
    text = (
        f"FICTIONAL DOCUMENT {doc_id}\n{title} about {child['given_name']} {child['family_name']}.\n"
        f"Parent contact: {parent['given_name']} {parent['family_name']}, {parent['phone']}.\n"
    )
    out.documents.append((key, text.encode("utf-8")))
    return out.add("document", {
        "id": doc_id, "case_id": case_id, "object_key": key, "title": title, "author_organisation": organisation,
        "third_party": third_party, "author_consent": consent, "created_on": _between(rng, opened, end),
    })


def _documents(rng, case, people, opened, end, ctx, out, problem) -> list[dict]:
    child = next(p for p in people if p["role"] == "subject_child")
    parent = next(p for p in people if p["role"] == "parent_carer")
    docs = []
    for n in range(rng.choice((0, 1, 1, 2, 3))):
        docs.append(_document_row(rng, case["id"], f"{case['id']}-D{n}", rng.choice(vocab.DOCUMENT_KINDS), opened, end, ctx, child, parent, out))
    if problem == "third_party_document_missing_consent":
        row = _document_row(rng, case["id"], f"{case['id']}-D8", vocab.DOCUMENT_KINDS[3], opened, end, ctx, child, parent, out)
        row["author_consent"] = None
        docs.append(row)
        out.problem(problem, row["id"])
    if problem == "third_party_document_shared_without_consent":
        row = _document_row(rng, case["id"], f"{case['id']}-D7", ("Police notification", "Police"), opened, end, ctx, child, parent, out)
        row["author_consent"] = "refused"
        docs.append(row)
    if problem == "orphan_document":
        row = _document_row(rng, case["id"][:-1] + "9", f"{case['id']}-D9", vocab.DOCUMENT_KINDS[0], opened, end, ctx, child, parent, out)
        out.problem(problem, row["id"])
    return docs


def _consent(rng, case, people, opened, end, out, problem):
    if case["case_type"] not in CONSENT_BASED_TYPES:
        return None, []
    parent = next(p for p in people if p["role"] == "parent_carer")
    kid = f"{case['id']}-K"
    # Signed at the first meeting: every share on the case falls under it.
    given_on = opened
    consent = out.add("consent", {
        "id": kid, "family_id": case["family_id"], "case_id": case["id"], "given_by": parent["id"], "given_on": given_on,
        "consent_to_approach": rng.random() < 0.95, "consent_to_share": rng.random() < 0.88, "withdrawn_on": None,
    })
    agencies = opted_out_choice(rng) if rng.random() < 0.3 else []
    if problem == "share_to_opted_out_agency":
        consent["consent_to_share"] = True
        agencies = agencies or ["housing"]
    if rng.random() < 0.08 and (end - given_on).days > 60:
        consent["withdrawn_on"] = _between(rng, given_on + timedelta(days=30), end)
    if problem == "share_after_withdrawal":
        consent["consent_to_share"] = True
        consent["withdrawn_on"] = given_on + timedelta(days=max(1, (end - given_on).days // 2))
    for n, agency in enumerate(agencies):
        out.add("consent_opt_out", {"id": f"{kid}{n}", "consent_id": kid, "agency": agency})
    if problem == "unknown_opt_out_agency":
        oid = f"{kid}9"
        out.add("consent_opt_out", {"id": oid, "consent_id": kid, "agency": "space_agency"})
        out.problem(problem, oid)
    return consent, agencies


def _allowed_by_consent(consent, opt_outs, agency: str, day: date) -> bool:
    withdrawn = consent["withdrawn_on"]
    return bool(consent["consent_to_share"]) and agency not in opt_outs and (withdrawn is None or day < withdrawn)


def _shares(rng, case, opened, end, consent, opt_outs, note_rows, documents, out, problem) -> None:
    cid = case["id"]
    shareable_notes = [n for n in note_rows if not n["restricted_disclosure"]]
    shareable_docs = [d for d in documents if not d["third_party"] or d["author_consent"] == "granted"]
    count = rng.randint(0, 3) if consent is not None else rng.randint(1, 4)
    rows = []
    for n in range(count):
        day = _between(rng, opened, end)
        agency = rng.choice(AGENCIES)
        row = _share_row(rng, f"{cid}-S{n}", cid, day, agency)
        if consent is None:
            row.update(lawful_basis="legal_duty", consent_status="not_sought")
        elif _allowed_by_consent(consent, opt_outs, agency, day):
            row.update(lawful_basis="consent", consent_status="given")
        else:
            reason = override(rng)
            row.update(lawful_basis=reason, override_reason=reason,
                       consent_status="withdrawn" if consent["withdrawn_on"] and day >= consent["withdrawn_on"] else "refused")
        if rng.random() < 0.08:
            row.update(decision="not_shared", lawful_basis=None, override_reason=None)
        if rng.random() < 0.3 and shareable_notes:
            row["casenote_id"] = rng.choice(shareable_notes)["id"]
        elif rng.random() < 0.2 and shareable_docs:
            row["document_id"] = rng.choice(shareable_docs)["id"]
        rows.append(out.add("sharing_record", row))
    _inject_share_problem(rng, case, opened, end, consent, opt_outs, note_rows, documents, out, problem)


def _share_row(rng, sid, cid, day, agency) -> dict:
    informed = rng.random() < 0.85
    return {
        "id": sid, "case_id": cid, "shared_on": day, "information": "summary of support plan and progress",
        "recipient_agency": agency, "purpose": rng.choice(vocab.PURPOSES), "decision": "shared",
        "lawful_basis": None, "consent_status": None, "override_reason": None,
        "decision_maker": rng.choice(vocab.STAFF_USERS), "family_informed": informed,
        "not_informed_reason": None if informed else "informing the family could place the child at risk",
        "restriction_on_disclosure": rng.random() < 0.05, "casenote_id": None, "document_id": None,
    }


def _a_permitted_share(rng, sid, case, consent, opt_outs, day) -> dict:
    """A share that breaks no consent rule, for problems about something else."""
    allowed = [a for a in AGENCIES if consent is None or _allowed_by_consent(consent, opt_outs, a, day)]
    row = _share_row(rng, sid, case["id"], day, rng.choice(allowed or list(AGENCIES)))
    row.update(family_informed=True, not_informed_reason=None)
    if consent is None:
        row.update(lawful_basis="legal_duty", consent_status="not_sought")
    elif allowed:
        row.update(lawful_basis="consent", consent_status="given")
    else:
        row.update(lawful_basis="significant_harm", override_reason="significant_harm", consent_status="refused")
    return row


def _inject_share_problem(rng, case, opened, end, consent, opt_outs, note_rows, documents, out, problem) -> None:
    sid = f"{case['id']}-S9"
    if problem == "share_to_opted_out_agency":
        day = opened if consent["withdrawn_on"] is None else min(opened, consent["withdrawn_on"] - timedelta(days=1))
        row = _share_row(rng, sid, case["id"], day, opt_outs[0])
        row.update(lawful_basis="consent", consent_status="given", family_informed=True, not_informed_reason=None)
    elif problem == "share_after_withdrawal":
        day = _between(rng, consent["withdrawn_on"], end)
        allowed_agencies = [a for a in AGENCIES if a not in opt_outs]
        row = _share_row(rng, sid, case["id"], day, allowed_agencies[0])
        row.update(lawful_basis="consent", consent_status="given", family_informed=True, not_informed_reason=None)
    elif problem in {"family_not_informed_without_reason", "third_party_document_shared_without_consent",
                     "restricted_material_passed_on", "sharing_without_lawful_basis"}:
        day = _between(rng, opened, end)
        row = _a_permitted_share(rng, sid, case, consent, opt_outs, day)
        if problem == "family_not_informed_without_reason":
            row.update(family_informed=False, not_informed_reason=None)
        elif problem == "third_party_document_shared_without_consent":
            row["document_id"] = f"{case['id']}-D7"
        elif problem == "restricted_material_passed_on":
            row["casenote_id"] = f"{case['id']}-N902"
        else:
            row.update(lawful_basis=None, consent_status=None, override_reason=None)
    else:
        return
    out.add("sharing_record", row)
    out.problem(problem, sid)



def _access(rng, case, opened, end, out, problem) -> None:
    cid = case["id"]
    for n in range(rng.randint(1, 4)):
        staff = rng.random() < 0.85
        out.add("access_log", {
            "id": f"{cid}-A{n}", "case_id": cid,
            "accessed_by": rng.choice(vocab.STAFF_USERS if staff else vocab.VOLUNTEER_NAMES), "is_staff": staff,
            "reason": (None if rng.random() < 0.5 else "case work") if staff else "preparing for a home visit",
            "accessed_at": at_time(rng, _between(rng, opened, end)),
        })
    if problem == "non_staff_access_without_reason":
        aid = f"{cid}-A9"
        out.add("access_log", {"id": aid, "case_id": cid, "accessed_by": rng.choice(vocab.VOLUNTEER_NAMES),
                               "is_staff": False, "reason": None, "accessed_at": at_time(rng, _between(rng, opened, end))})
        out.problem(problem, aid)


def _case_defects(rng, case, ctx, out, problem) -> None:
    if problem == "missing_closure_date":
        case["closed_on"] = None
    elif problem == "closure_before_opening":
        case["closed_on"] = case["opened_on"] - timedelta(days=rng.randint(1, 300))
    elif problem == "future_closure_date":
        case["closed_on"] = ctx.as_of + timedelta(days=rng.randint(30, 900))
    elif problem == "closed_without_reason":
        case["closure_reason"] = None
    else:
        return
    out.problem(problem, case["id"])

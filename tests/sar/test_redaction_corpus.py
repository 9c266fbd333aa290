"""Redaction measured on a generated corpus with known mentions, recounted independently.

For every subject child of a generated store: every mention of a person the
store knows (other than the subject) must be covered by a redaction; at least
95% of the identifiers of people it does not know (phone, e-mail, postcode,
NHS and NI numbers); professionals' names never; and every record of the
subject is in the bundle. Mentions are found here with plain string search
and the generator's own formats, not with the platform's matchers, and the
regexes are first checked against the generator's manifest tally.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

import pytest
import sqlalchemy as sa

from governance.config import StoreConfig
from governance.sar.discovery import discover
from governance.sar.export import assemble
from governance.sar.people import KnownPeople
from governance.sar.redaction import RedactionContext, default_rules, redact_records
from governance.storage import open_object_store
from governance.stores.store import CaseStore
from governance.stores.synthetic import generate_store

# The generator's formats (governance/stores/synthetic/identifiers.py), written out again.
PATTERNS = {
    "phone": re.compile(r"07700 900\d{3}|020 7946 0\d{3}|0113 496 0\d{3}|0161 496 0\d{3}"),
    "email": re.compile(r"[a-z]+\.[a-z]+\d{2}@example\.org"),
    "postcode": re.compile(r"\b(?:QA|QE|VA|VN|XL|XR)\d{1,2} \d[A-Z]{2}\b"),
    "nhs": re.compile(r"\b999 \d{3} \d{4}\b"),
    "ni": re.compile(r"\bQ[QZ] \d{2} \d{2} \d{2} [A-D]\b"),
}
FAMILIES = 80


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    store = CaseStore.open(StoreConfig("default", f"sqlite:///{folder / 'store.db'}"))
    objects = open_object_store((folder / "objects").as_uri())
    manifest = generate_store(store, objects, families=FAMILIES, seed=11)
    return store, objects, manifest


def _rows(store: CaseStore, entity: str, fields: list[str], where=None) -> list[dict]:
    query = store.select(entity, fields)
    if where is not None:
        query = query.where(where)
    with store.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def test_the_independent_regexes_agree_with_the_generator_tally(corpus) -> None:
    store, _, manifest = corpus
    bodies = [r["body"] for r in _rows(store, "casenote", ["body"])]
    found = Counter({kind: sum(len(p.findall(b)) for b in bodies) for kind, p in PATTERNS.items()})
    tally = manifest.tally
    assert found["phone"] == tally["mention_pattern_phone"] + tally["mention_known_phone"]
    for kind in ("email", "postcode", "nhs", "ni"):
        assert found[kind] == tally[f"mention_pattern_{kind}"], kind


def _covered(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(a <= start and end <= b for a, b in spans)


def _occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    out, at = [], text.find(needle)
    while needle and at >= 0:
        out.append((at, at + len(needle)))
        at = text.find(needle, at + 1)
    return out


def test_every_known_person_and_nearly_every_pattern_is_redacted_and_professionals_never(corpus) -> None:
    store, objects, _ = corpus
    people = _rows(store, "person", ["id", "family_id", "role", "given_name", "family_name", "aliases", "phone",
                                     "address", "email", "postcode"])
    professionals = [p for p in people if p["role"] == "professional"]
    subjects = [p for p in people if p["role"] == "subject_child"]
    members = _rows(store, "case_member", ["case_id", "person_id"])
    counts: Counter = Counter()

    span_rules = [r for r in default_rules() if not r.whole_record]
    for subject in subjects:
        found = discover(store, objects, subject["id"])
        context = RedactionContext(KnownPeople(found.subject, found.people, found.professionals))
        result = redact_records(found.records, context)
        # Spans are measured on every text, withheld records included (police notes hold the NI numbers).
        spans_only = redact_records(found.records, context, rules=span_rules)

        # Independently: the subject's cases, and everyone on them or in the family but the subject.
        cases = {m["case_id"] for m in members if m["person_id"] == subject["id"]}
        on_cases = {m["person_id"] for m in members if m["case_id"] in cases}
        third = [p for p in people if p["id"] != subject["id"] and p["role"] != "professional"
                 and (p["family_id"] == subject["family_id"] or p["id"] in on_cases)]
        third_strings = {f"{p['given_name']} {p['family_name']}" for p in third}
        third_strings |= {a for p in third for a in (p["aliases"] or "").split("|") if a}
        third_strings |= {p["phone"] for p in third if p["phone"]} | {p["email"] for p in third if p["email"]}
        third_strings |= {p["address"] for p in third if p["address"] and p["address"] != subject["address"]}
        own = {subject["postcode"], subject["address"]}
        prof_names = {f"{p['given_name']} {p['family_name']}" for p in professionals} - third_strings

        # Every record of the subject is there.
        notes = {r["id"] for r in _rows(store, "casenote", ["id", "case_id"]) if r["case_id"] in cases}
        docs = {r["id"] for r in _rows(store, "document", ["id", "case_id"]) if r["case_id"] in cases}
        bundle = assemble(request={"request_id": "sar-t", "store": "default", "subject_person_id": subject["id"],
                                   "received_on": date(2026, 6, 1)}, deadline=None, discovery=found,
                          redactions=result, article15={}, as_of=date(2026, 6, 2))
        in_bundle = {(r["entity"], r["id"]) for s in bundle["sections"] for r in s["records"]}
        assert {("casenote", n) for n in notes} | {("document", d) for d in docs} <= in_bundle
        counts["records_expected"] += len(notes) + len(docs)
        counts["records_in_bundle"] += len({k for k in in_bundle if k[0] in ("casenote", "document")})

        for record in found.records:
            counts["records_withheld"] += any(r.withholds for r in result.get(record.key, []))
            items = spans_only.get(record.key, [])
            for field, text in record.fields.items():
                spans = [(r.start, r.end) for r in items if r.field == field]
                explained: list[tuple[int, int]] = []
                for needle in third_strings:
                    for s, e in _occurrences(text, needle):
                        explained.append((s, e))
                        counts["known_mentions"] += 1
                        counts["known_redacted"] += _covered(s, e, spans)
                for needle in prof_names:
                    for s, e in _occurrences(text, needle):
                        counts["professional_mentions"] += 1
                        counts["professional_redacted"] += any(a < e and s < b for a, b in spans)
                for kind, pattern in PATTERNS.items():
                    for m in pattern.finditer(text):
                        explained.append(m.span())
                        if m.group() in third_strings or m.group() in own:
                            continue  # a known person's (counted above) or the subject's own
                        counts[f"pattern_{kind}"] += 1
                        counts[f"pattern_{kind}_redacted"] += _covered(m.start(), m.end(), spans)
                # Over-redaction: a span that hides nothing found independently.
                counts["spans"] += len(spans)
                counts["spans_unexplained"] += sum(not any(a < e and s < b for s, e in explained) for a, b in spans)

    print(dict(counts))
    assert counts["known_mentions"] > 500
    assert counts["known_redacted"] == counts["known_mentions"]  # 100%
    assert counts["professional_mentions"] > 300
    assert counts["professional_redacted"] == 0
    assert counts["records_in_bundle"] == counts["records_expected"] > 0
    assert counts["spans_unexplained"] == 0, "redactions that hide nothing identifying"
    total = sum(counts[f"pattern_{k}"] for k in PATTERNS)
    redacted = sum(counts[f"pattern_{k}_redacted"] for k in PATTERNS)
    assert total > 300 and redacted / total >= 0.95
    for kind in PATTERNS:
        assert counts[f"pattern_{kind}"] > 0 and counts[f"pattern_{kind}_redacted"] / counts[f"pattern_{kind}"] >= 0.95


def test_homestart_mapping_is_searched_and_redacted_the_same_way(tmp_path) -> None:
    store = CaseStore.open(StoreConfig("homestart", f"sqlite:///{tmp_path / 'hs.db'}", "homestart"))
    objects = open_object_store((tmp_path / "objects").as_uri())
    generate_store(store, objects, families=6, seed=2)
    with store.engine.connect() as conn:
        subject = conn.execute(sa.select(store.raw("person", "id")).where(store.is_("person", "role", "subject_child"))
                               .order_by(store.raw("person", "id")).limit(1)).scalar_one()
    found = discover(store, objects, subject)
    assert {e.target for e in found.searches if e.source == "store"} >= {"Contact", "FileContact", "FamilyFile", "VisitNote"}
    assert found.counts()["casenote"] > 0
    result = redact_records(found.records, RedactionContext(KnownPeople(found.subject, found.people, found.professionals)))
    assert any(r.code == "SCH2-P16" for items in result.values() for r in items)

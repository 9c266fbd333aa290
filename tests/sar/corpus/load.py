"""Read the hand-written corpus (see README.md): the store into a real SQLite case store, the notes with their labels."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
LABEL = re.compile(r"\[\[(TP|KEEP):(.+?)\]\]")


@dataclass
class Note:
    note_id: str
    subject: str
    case_id: str
    part: str
    title: str
    body: str
    labels: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, TP|KEEP) in body


def strip_labels(marked: str) -> tuple[str, list[tuple[int, int, str]]]:
    out, labels, at = [], [], 0
    length = 0
    for m in LABEL.finditer(marked):
        plain = marked[at:m.start()]
        out.append(plain)
        length += len(plain)
        labels.append((length, length + len(m.group(2)), m.group(1)))
        out.append(m.group(2))
        length += len(m.group(2))
        at = m.end()
    out.append(marked[at:])
    text = "".join(out)
    if "[[" in text or "]]" in text:
        raise ValueError(f"unbalanced label in: {marked[:60]}")
    return text, labels


def read_notes() -> list[Note]:
    notes: list[Note] = []
    for path in sorted(HERE.glob("*.notes")):
        subject = case = ""
        part = "tune"
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("@"):
                key, value = line[1:].split(None, 1)
                subject, case, part = (value, case, part) if key == "subject" else (
                    (subject, value, part) if key == "case" else (subject, case, value))
                continue
            title, body = line.split(" | ", 1)
            text, labels = strip_labels(body)
            notes.append(Note(f"{path.stem}-{n:03d}", subject, case, part, title, text, labels))
    return notes


def read_store() -> dict:
    return json.loads((HERE / "store.json").read_text(encoding="utf-8"))


def build_store(folder: Path, notes: list[Note]):
    """The store and its notes in SQLite under ``folder``; returns (CaseStore, ObjectStore)."""
    from governance.config import StoreConfig
    from governance.storage import open_object_store
    from governance.stores.store import CaseStore

    data = read_store()
    store = CaseStore.open(StoreConfig("corpus", f"sqlite:///{folder / 'corpus.db'}"))
    store.create_schema()
    objects = open_object_store((folder / "objects").as_uri())
    as_date = lambda v: date.fromisoformat(v) if v else None  # noqa: E731
    people = [{**p, "date_of_birth": as_date(p.get("date_of_birth"))} for p in data["people"]]
    cases = [{k: (as_date(v) if k.endswith("_on") else v) for k, v in c.items() if k != "members"} for c in data["cases"]]
    members = [{"id": f"{c['id']}-{pid}", "case_id": c["id"], "person_id": pid, "role": role}
               for c in data["cases"] for pid, role in c["members"].items()]
    opened = {c["id"]: as_date(c["opened_on"]) for c in data["cases"]}
    rows = [{"id": n.note_id, "case_id": n.case_id, "written_on": opened[n.case_id] + timedelta(days=i % 300),
             "title": n.title, "body": n.body, "police_intelligence": False, "third_party_information": False,
             "restricted_disclosure": False} for i, n in enumerate(notes)]
    with store.engine.begin() as conn:
        store.insert(conn, "family", data["families"])
        store.insert(conn, "person", people)
        store.insert(conn, "case", cases)
        store.insert(conn, "case_member", members)
        store.insert(conn, "casenote", rows)
    return store, objects


def covered(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Is [start, end) inside the union of ``spans``? (Spaces or punctuation between two spans count as covered.)"""
    at = start
    for a, b in sorted(spans):
        if b <= at:
            continue
        if a > at and text[at:a].strip(" ,.'’-"):
            return False
        at = b
        if at >= end:
            return True
    return at >= end


def run_project(folder: Path, notes: list[Note]) -> tuple[dict[str, list[tuple[int, int]]], float, int]:
    """Each subject's notes through discovery and the registered rules: (body spans per note, seconds, bytes)."""
    import time

    from governance.sar.discovery import discover
    from governance.sar.people import request_people
    from governance.sar.redaction import RedactionContext, redact_records
    from governance.sar.redaction.memo import forget_all

    store, objects = build_store(folder, notes)
    spans: dict[str, list[tuple[int, int]]] = {}
    seconds = 0.0
    size = 0
    for subject in sorted({n.subject for n in notes}):
        found = discover(store, objects, subject)
        records = [r for r in found.records if r.entity == "casenote"]
        size += sum(len(r.fields["body"].encode()) for r in records)
        people = request_people(store, found)  # as a request's working set reads them
        result = redact_records(found.records, RedactionContext(people))
        # Timed cold (nothing remembered from the first pass; the process-wide lexicon stays compiled),
        # in CPU seconds: the machine is shared.
        forget_all()
        t0 = time.process_time()
        redact_records(found.records, RedactionContext(request_people(store, found)))
        seconds += time.process_time() - t0
        for r in records:
            spans[r.record_id] = [(x.start, x.end) for x in result.get(r.key, []) if x.field == "body"]
    store.engine.dispose()
    return spans, seconds, size


def score(notes: list[Note], spans_by_note: dict[str, list[tuple[int, int]]]) -> dict:
    """Recall on third-party spans, false redactions of must-keep spans, and redactions over unlabelled text."""
    out: dict = {}
    for part in sorted({n.part for n in notes}) + ["all"]:
        tp = tp_hit = keep = keep_hit = spans = unlabelled = 0
        misses, false = [], []
        for n in notes:
            if part != "all" and n.part != part:
                continue
            red = spans_by_note.get(n.note_id, [])
            for s, e, label in n.labels:
                if label == "TP":
                    tp += 1
                    if covered(n.body, s, e, red):
                        tp_hit += 1
                    else:
                        misses.append((n.note_id, n.body[s:e]))
                else:
                    keep += 1
                    if any(a < e and s < b for a, b in red):
                        keep_hit += 1
                        false.append((n.note_id, n.body[s:e]))
            spans += len(red)
            unlabelled += sum(not any(a < e and s < b for s, e, label in n.labels if label == "TP") for a, b in red)
        out[part] = {"notes": sum(1 for n in notes if part in ("all", n.part)), "tp": tp, "tp_redacted": tp_hit,
                     "recall": round(tp_hit / tp, 4) if tp else None, "keep": keep, "keep_redacted": keep_hit,
                     "false_redaction_rate": round(keep_hit / keep, 4) if keep else None, "redactions": spans,
                     "unlabelled_redactions": unlabelled, "misses": misses, "false": false}
    return out

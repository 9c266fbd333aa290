"""Benchmark a subject access request end to end, and redaction throughput.

    python bench/sar_bench.py                      # sizes 300:30, 1000:50, 3000:150 (casenotes:documents)
    python bench/sar_bench.py --sizes 3000:150

For each size, in a fresh process, under a temporary folder (SQLite store,
ledger and state; local object folder): a small clean generated store, then
one subject child given that many more casenotes and documents, written with
the generator's own note writer (so they mention family members, members of
the public, professionals and unknown people's identifiers). Then lodge ->
discover -> redact -> review pack -> approve -> build (PDF, JSON, manifest,
AES-256-GCM) -> deliver, timed per step. Redaction throughput is the text
redacted (UTF-8 bytes of every text field) over the time the rules took.
Targets: 3,000 casenotes and 150 documents in under 10 s (issue 14; 30 s in issue 5); redaction
at least 1 MB/s, measured cold (every memo emptied, governance/sar/redaction/memo.py). On a shared
machine wall time swings with the load: CPU time is printed beside it.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SUBJECT = "P000000000"
SEED = 3
FAMILIES = 20


def _release_flagged(settings, rid, flagged) -> int:
    """A reviewer's decisions on the notes flagged as third-party information: every one released, redacted."""
    from datetime import datetime, timezone

    from governance.sar import review
    from governance.state import state_engine

    at = datetime(2026, 6, 2, tzinfo=timezone.utc)
    with state_engine(settings).begin() as conn:
        for note in flagged:
            review.decide_flagged(conn, rid, entity=note["entity"], record_id=note["record_id"], withhold=False,
                                  reason="bench: released with its redactions", by="bench", at=at)
    return len(flagged)


def _grow_subject(settings, notes: int, documents: int) -> dict:
    """Give the subject's first case ``notes`` more casenotes and ``documents`` more documents."""
    import sqlalchemy as sa

    from governance.stores.seeding import open_objects
    from governance.stores.store import CaseStore
    from governance.stores.synthetic import vocab
    from governance.stores.synthetic.generator import _professionals
    from governance.stores.synthetic.notes import NoteWriter

    store = CaseStore.open(settings.store("default"))
    objects = open_objects(settings)
    with store.engine.connect() as conn:
        person = dict(conn.execute(store.select("person").where(store.raw("person", "id") == SUBJECT)).mappings().one())
        people = [dict(r) for r in conn.execute(store.select("person").where(
            store.raw("person", "family_id") == person["family_id"])).mappings()]
        case_id = conn.execute(sa.select(store.raw("case_member", "case_id")).where(
            store.raw("case_member", "person_id") == SUBJECT).limit(1)).scalar_one()
    rng = random.Random(f"bench:{notes}:{documents}")
    pool = _professionals(SEED, FAMILIES)
    writer = NoteWriter(rng, people, pool)
    case_profs = rng.sample(list(pool), 2)
    start = date(2015, 1, 1)
    note_rows, doc_rows = [], []
    for n in range(notes):
        note = writer.write(rng.choice(vocab.NOTE_TITLES), case_profs)
        note_rows.append({"id": f"{case_id}-B{n:05d}", "case_id": case_id, "author_id": case_profs[n % 2].id,
                          "written_on": start + timedelta(days=n), "title": note.title, "body": note.body,
                          "police_intelligence": note.police_intelligence,
                          "third_party_information": note.third_party_information, "restricted_disclosure": False})
    text_bytes = 0
    for n in range(documents):
        did = f"{case_id}-BD{n:03d}"
        key = f"stores/default/cases/{case_id}/{did}.txt"
        title, organisation = rng.choice(vocab.DOCUMENT_KINDS)
        body = "\n".join(writer.write(title, case_profs).body for _ in range(12))  # a few pages of prose
        data = f"FICTIONAL DOCUMENT {did}\n{title}\n{body}\n".encode()
        text_bytes += len(data)
        objects.put(key, data)
        doc_rows.append({"id": did, "case_id": case_id, "object_key": key, "title": title,
                         "author_organisation": organisation, "third_party": organisation is not None,
                         "author_consent": rng.choice(("granted", "refused", "not_sought")) if organisation else None,
                         "created_on": start + timedelta(days=n * 7)})
    with store.engine.begin() as conn:
        store.insert(conn, "casenote", note_rows)
        store.insert(conn, "document", doc_rows)
    store.engine.dispose()
    return {"case_id": case_id, "note_bytes": sum(len(r["body"].encode()) for r in note_rows), "document_bytes": text_bytes}


def one_run(notes: int, documents: int, workdir: Path) -> dict:
    from governance.jobs import sar as jobs
    from governance.sar.people import KnownPeople
    from governance.sar.redaction import RedactionContext, default_rules, redact_records
    from governance.config import Settings, StoreConfig, sqlite_url
    from governance.stores.seeding import seed_store

    home = workdir / "var"
    settings = Settings(home=home, stores=(StoreConfig("default", sqlite_url(home / "stores" / "default.db")),),
                        ledger_url=sqlite_url(home / "ledger.db"), objects_url=(home / "objects").as_uri(),
                        keys_dir=home / "keys")
    seed_store(settings, families=FAMILIES, seed=SEED, clean=True)
    grown = _grow_subject(settings, notes, documents)

    timings: dict[str, float] = {}

    def timed(name, fn, *args, **kwargs):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)
        return result

    started = time.perf_counter()
    cpu_started = time.process_time()
    rid = timed("lodge", jobs.lodge_request, settings, store="default", subject_person_id=SUBJECT,
                received_on=date(2026, 6, 1), actor="bench")["request_id"]
    found = timed("discover", jobs.discover_request, settings, rid)
    timed("redact", jobs.redact_request, settings, rid)
    pack = timed("review_pack", jobs.prepare_review, settings, rid)
    timed("decide_flagged", _release_flagged, settings, rid, pack["needs_decision"])  # the biggest bundle: all released
    pack = jobs.prepare_review(settings, rid)
    timed("approve", jobs.record_review, settings, rid, decision="approved", reviewer="bench", seen_hash=pack["pack_hash"],
          channel="cli", actor="bench")
    built = timed("build", jobs.build_bundle, settings, rid, as_of=date(2026, 6, 20))
    timed("deliver", jobs.deliver_bundle, settings, rid, as_of=date(2026, 6, 20), actor="bench")
    total = time.perf_counter() - started
    cpu_total = time.process_time() - cpu_started

    # Redaction alone: the rules over every text field of the subject's records.
    from governance.sar.discovery import discover
    from governance.stores.seeding import open_objects
    from governance.stores.store import CaseStore

    from governance.sar.people import store_people
    from governance.sar.redaction.memo import forget_all

    store = CaseStore.open(settings.store("default"))
    disc = discover(store, open_objects(settings), SUBJECT)
    text = sum(len(v.encode()) for r in disc.records for v in r.fields.values())
    forget_all()  # a cold pass: nothing remembered from the steps above
    t0, c0 = time.perf_counter(), time.process_time()
    context = RedactionContext(KnownPeople(disc.subject, disc.people, disc.professionals, others=store_people(store)))
    # Every text field scanned: the span rules (whole-record rules would skip the text of withheld notes).
    result = redact_records(disc.records, context, rules=[r for r in default_rules() if not r.whole_record])
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {
        "casenotes": found["records"]["casenote"],
        "documents": found["records"]["document"],
        "seconds": round(total, 2),
        "cpu_seconds": round(cpu_total, 2),  # the machine is shared: CPU time is the steadier figure
        "under_10s": total < 10,
        "steps": timings,
        "redactions": sum(len(v) for v in result.values()),
        "redaction_text_mb": round(text / 1e6, 3),
        "redaction_seconds": round(seconds, 3),
        "redaction_mb_per_s": round(text / 1e6 / seconds, 2),
        "redaction_cpu_mb_per_s": round(text / 1e6 / cpu, 2),
        "pdf_bytes": built["files"]["bundle.pdf"],
        "package_bytes": built["package_bytes"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "grown": grown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="300:30,1000:50,3000:150", help="comma-separated NOTES:DOCUMENTS")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        notes, documents = (int(x) for x in args.one.split(":"))
        print(json.dumps(one_run(notes, documents, Path(args.workdir))))
        return
    results = []
    for size in args.sizes.split(","):
        with tempfile.TemporaryDirectory(prefix="gov-sar-bench-") as tmp:
            out = subprocess.run([sys.executable, __file__, "--one", size, "--workdir", tmp],
                                 check=True, capture_output=True, text=True, cwd=ROOT)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results.append(r)
            print(f"sar {r['casenotes']:>5} notes {r['documents']:>4} documents: {r['seconds']:>6}s end to end "
                  f"({r['cpu_seconds']}s CPU; build {r['steps']['build']}s); redaction {r['redaction_mb_per_s']} MB/s "
                  f"({r['redaction_cpu_mb_per_s']} MB/s CPU, cold) over "
                  f"{r['redaction_text_mb']} MB; PDF {r['pdf_bytes'] // 1024} KiB; peak {r['peak_rss_mb']} MB",
                  file=sys.stderr)
    print(json.dumps({"benchmark": "sar", "results": results}))


if __name__ == "__main__":
    main()
